/** The status bar item: fusions in flight, per-model state (tooltip), session cost. */
import * as vscode from 'vscode';
import type { ServerState } from './server';
import { describeModels, type Fusion, formatUsd, type FusionTracker, shortModel } from './tracker';

export class StatusView implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private readonly subscriptions: vscode.Disposable[] = [];
  private server: ServerState = { kind: 'stopped' };

  constructor(
    private readonly tracker: FusionTracker,
    onServerState: vscode.Event<ServerState>,
  ) {
    this.item = vscode.window.createStatusBarItem('fuseLs.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'fuse-ls';
    this.subscriptions.push(
      this.tracker.onDidChange(() => this.update()),
      onServerState((state) => {
        this.server = state;
        this.update();
      }),
    );
    this.update();
    this.item.show();
  }

  update(): void {
    const item = this.item;
    const state = this.server;
    item.backgroundColor = undefined;
    switch (state.kind) {
      case 'missing':
        item.text = '$(warning) fuse-ls';
        item.tooltip = `${state.message}\nClick to choose the Python interpreter.`;
        item.command = 'fuseLs.selectInterpreter';
        item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        return;
      case 'missing-python':
      case 'failed':
        item.text = '$(error) fuse-ls';
        item.tooltip = `${state.message}\nClick to show the logs.`;
        item.command = 'fuseLs.showLogs';
        item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        return;
      case 'starting':
        item.text = '$(loading~spin) fuse-ls';
        item.tooltip = 'fuse-ls: starting the server…';
        item.command = 'fuseLs.showLogs';
        return;
      case 'stopped':
        item.text = '$(circle-slash) fuse-ls';
        item.tooltip = 'fuse-ls: server stopped. Click to show the logs.';
        item.command = 'fuseLs.showLogs';
        return;
      case 'running':
        break;
    }
    const inFlight = this.tracker.inFlight;
    const cost = formatUsd(this.tracker.sessionCostUsd);
    // No spinner: the fusion's notification is the one progress display (per-model marks,
    // Cancel); the item only counts what runs and what it cost.
    item.text = inFlight > 0 ? `$(sparkle) fuse-ls ${inFlight} running · ${cost}` : `$(sparkle) fuse-ls ${cost}`;
    item.tooltip = this.tooltip(state.bundled ? `${state.version} (bundled)` : state.version, inFlight, cost);
    item.command = 'fuseLs.showStats';
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.item.dispose();
  }

  private tooltip(version: string, inFlight: number, cost: string): string {
    const lines = [`fuse-ls ${version}: ${inFlight} fusion${inFlight === 1 ? '' : 's'} in flight, ${cost} this session`];
    const running = this.tracker.running();
    const shown: Fusion[] = running.length > 0 ? running : this.tracker.recent().slice(0, 1);
    for (const fusion of shown) {
      lines.push(`${fusion.task} (${fusion.state}) ${shortUri(fusion.uri)}: ${describeModels(fusion) || 'waiting for models'}`);
      for (const model of fusion.models.filter((m) => m.state === 'failed' && m.error)) {
        lines.push(`  ${shortModel(model.model)} failed: ${model.error ?? ''}`);
      }
    }
    lines.push('Click for usage and cost per model.');
    return lines.join('\n');
  }
}

function shortUri(uri: string): string {
  const slash = uri.lastIndexOf('/');
  return slash >= 0 ? uri.slice(slash + 1) : uri;
}
