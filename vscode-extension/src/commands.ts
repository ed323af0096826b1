/**
 * Review / explain / fix / cancel / stats. Each fusion runs inside a cancellable
 * notification that lists the pool's models as their `fuse/modelStatus` arrive.
 */
import * as vscode from 'vscode';
import type { ShowDocumentParams, ShowDocumentRequest, ShowDocumentResult } from 'vscode-languageclient/node';
import { type FixArrival, type FixExpectation, FixWaits, type LineSpan, selectedLines } from './fixwaits';
import { describeError, type Logger } from './log';
import { degradedNotes, inertLinks, notice } from './messages';
import type { ClientLike } from './server';
import { describeModels, formatUsd, type FusionTracker } from './tracker';

export type Task = 'review' | 'explain' | 'fix';

export const SERVER_COMMANDS: Record<Task, string> = {
  review: 'fuse-ls.review',
  explain: 'fuse-ls.explain',
  fix: 'fuse-ls.fix',
};

const TITLES: Record<Task, string> = {
  review: 'Fused review',
  explain: 'Explain with consensus',
  fix: 'Fused fix',
};

export interface LspRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

export interface FusionArgs {
  uri: string;
  range?: LspRange;
  /** fuse-ls.fix only: the server echoes it in the fix it sends (see `Fusions.keyed`). */
  requestKey?: string;
}

export interface ReviewResult {
  fusionId?: string;
  findings?: unknown[];
  cancelled?: boolean;
  notes?: unknown;
}
export interface ExplainResult {
  fusionId?: string;
  markdown?: string;
  documentUri?: string;
  cancelled?: boolean;
}
export interface FixResult {
  fusionId?: string;
  applied?: boolean;
  /** Why nothing was applied: "no fix proposed", the selection changed, the user declined. */
  reason?: string;
  cancelled?: boolean;
}
export interface StatsResult {
  fusions?: number;
  costUsd?: number;
  models?: Record<
    string,
    {
      calls?: number;
      failures?: number;
      costUsd?: number;
      promptTokens?: number;
      completionTokens?: number;
      meanLatencyMs?: number;
    }
  >;
}

export const VERIFY_FINDING = 'fuse-ls.verifyFinding';
export interface VerifyArgs {
  uri: string;
  findingId: string;
  /** Then offer the fix as an edit whose preview says how the checks went. */
  apply?: boolean;
  requestKey?: string;
}
export interface VerifyResult {
  checks?: { passed?: boolean; summary?: string; failingLines?: string };
  applied?: boolean;
  reason?: string | null;
}

interface FindingDiagnostic {
  range: vscode.Range;
  message: string;
  source?: string;
  data?: { findingId?: unknown; fix?: unknown };
}

/** The fuse-ls findings with a fix on the cursor's line, or on any of `line`..`lastLine`. */
export function fixableFindingsAt(diagnostics: readonly FindingDiagnostic[], line: number, lastLine = line): FindingDiagnostic[] {
  return diagnostics.filter(
    (d) => d.source === 'fuse-ls' && typeof d.data?.findingId === 'string' && d.data.fix !== undefined && d.data.fix !== null && d.range.start.line <= lastLine && line <= d.range.end.line,
  );
}

export const REVIEW_CHANGES = 'fuse-ls.reviewChanges';
export type ChangeScope = 'uncommitted' | 'staged' | 'diff';
export const CHANGE_SCOPES: readonly { scope: ChangeScope; label: string; detail: string }[] = [
  { scope: 'uncommitted', label: 'Uncommitted changes', detail: 'everything not committed yet, staged or not' },
  { scope: 'staged', label: 'Staged changes', detail: 'what the next commit holds' },
  { scope: 'diff', label: 'Changes of this branch', detail: 'against where it left the default branch' },
];

export interface ReviewChangesResult {
  reviewId?: string;
  cancelled?: boolean;
  units?: number;
  findings?: unknown[];
  skippedFiles?: { path?: string; reason?: string }[];
  failedUnits?: { path?: string; startLine?: number; error?: string }[];
  error?: string;
}

async function pickChangeScope(): Promise<ChangeScope | undefined> {
  const items = CHANGE_SCOPES.map((s) => ({ label: s.label, detail: s.detail, scope: s.scope }));
  const picked = await vscode.window.showQuickPick(items, { title: 'fuse-ls: Fused review of changes', placeHolder: 'Which change?' });
  return picked?.scope;
}

class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

export function taskOf(command: string): Task | undefined {
  return (Object.keys(SERVER_COMMANDS) as Task[]).find((task) => SERVER_COMMANDS[task] === command);
}

/** LSP and VS Code agree on 0-based lines and UTF-16 columns, so this is a plain copy. */
export function toLspRange(range: vscode.Range): LspRange {
  return {
    start: { line: range.start.line, character: range.start.character },
    end: { line: range.end.line, character: range.end.character },
  };
}

/** `{uri, range}` for the active selection; no range (= whole document) when it is empty. */
export function argsForEditor(editor: vscode.TextEditor): FusionArgs {
  const uri = editor.document.uri.toString();
  const selection = editor.selection;
  return selection.isEmpty ? { uri } : { uri, range: toLspRange(selection) };
}

export class Fusions {
  /** Fusions this window started, by uri, so Cancel can also stop waiting locally. */
  private readonly local = new Map<vscode.CancellationTokenSource, string>();
  /** Explanation documents already shown as a preview (through window/showDocument). */
  private readonly previewed = new Set<string>();
  /** The requests whose notification a fix's arrival ends (see `fixReady`). */
  private readonly fixWaits = new FixWaits(sameUri);
  /** Fusions a notification already shows: a second request on the same document binds another. */
  private readonly shown = new Set<string>();
  /** Why fixes were refused, as the fix preview already told the user (see `fixRefused`). */
  private readonly told = new Set<string>();
  private keys = 0;

  constructor(
    private readonly tracker: FusionTracker,
    private readonly client: () => ClientLike | undefined,
    private readonly logger: Logger,
    private readonly channel: vscode.OutputChannel,
  ) {}

  /**
   * Palette / context menu entry point. `target`: these lines of this document instead of
   * the editor's selection (a refused fix's "Fix Again"); they are selected and shown.
   */
  async runOnEditor(task: Task, target?: FusionArgs): Promise<unknown> {
    const editor = target ? await showTarget(target) : vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showWarningMessage(`fuse-ls: open a file and select code to run "${TITLES[task]}".`);
      return undefined;
    }
    const client = this.requireClient();
    if (!client) {
      return undefined;
    }
    const chosen = target ?? argsForEditor(editor);
    const args = task === 'fix' ? this.keyed(chosen) : chosen;
    const result = await this.withProgress(task, args, (token) =>
      client.sendRequest('workspace/executeCommand', { command: SERVER_COMMANDS[task], arguments: [args] }, token),
    );
    await this.present(task, result);
    return result;
  }

  /**
   * Language-client middleware for `fuse-ls.*` commands the server's code actions carry:
   * the lightbulb path gets the same progress UI and result handling as the palette.
   */
  readonly executeCommandMiddleware = async (
    command: string,
    args: unknown[],
    next: (command: string, args: unknown[]) => unknown,
  ): Promise<unknown> => {
    if (command === VERIFY_FINDING) {
      const given = args[0] as Partial<VerifyArgs> | undefined;
      const verify = given?.apply === true ? this.keyed(given) : given;
      const sent = verify === given ? args : [verify, ...args.slice(1)];
      const lines = typeof verify?.uri === 'string' && typeof verify.findingId === 'string' ? findingLines(verify.uri, verify.findingId) : undefined;
      return this.verifyWithProgress(verify?.uri, lines, verify?.apply === true, verify?.requestKey, () => Promise.resolve(next(command, sent) as VerifyResult));
    }
    const task = taskOf(command);
    const given = args[0] as Partial<FusionArgs> | undefined;
    if (!task || typeof given?.uri !== 'string') {
      return next(command, args);
    }
    const first = task === 'fix' ? this.keyed(given as FusionArgs) : (given as FusionArgs);
    const sent = [first, ...args.slice(1)];
    // Sent here rather than through `next`, which takes no token: the notification's Cancel
    // then cancels this request ($/cancelRequest), and only it.
    const client = this.client();
    const send = client
      ? (token: vscode.CancellationToken) => client.sendRequest('workspace/executeCommand', { command, arguments: sent }, token)
      : () => Promise.resolve(next(command, sent));
    const result = await this.withProgress(task, first, send);
    await this.present(task, result);
    return result;
  };

  /**
   * Language-client middleware for `window/showDocument`: the server shows an
   * explanation by opening its Markdown file; a rendered preview is what a reader wants,
   * so Markdown files open as a preview beside the code instead of as source.
   */
  readonly showDocumentMiddleware = async (
    params: ShowDocumentParams,
    next: ShowDocumentRequest.HandlerSignature,
  ): Promise<ShowDocumentResult> => {
    const fallback = async (): Promise<ShowDocumentResult> => {
      const result = await next(params, new vscode.CancellationTokenSource().token);
      return result instanceof Error ? { success: false } : result;
    };
    if (params.external || !/\.(md|markdown)$/i.test(params.uri)) {
      return fallback();
    }
    try {
      await vscode.commands.executeCommand('markdown.showPreviewToSide', vscode.Uri.parse(params.uri));
      this.previewed.add(params.uri);
      return { success: true };
    } catch (error) {
      this.logger.error(`Markdown preview of ${params.uri} failed`, error);
      return fallback();
    }
  };

  /**
   * Cancels the fusions of the active document when it has any, else all of them, and
   * says how many. The server is asked first: it stops the models and counts what it
   * stopped. Only then does this window stop waiting for its own requests (cancelling
   * those first would end them on the server before it could count them).
   */
  async cancel(): Promise<number> {
    const editorUri = vscode.window.activeTextEditor?.document.uri.toString();
    const scoped = editorUri !== undefined && this.tracker.running().some((f) => f.uri === editorUri);
    const waiting = [...this.local].filter(([, uri]) => !scoped || uri === editorUri).map(([source]) => source);
    const client = this.client();
    let count = 0;
    if (client) {
      try {
        const result = await client.sendRequest<{ cancelled?: number }>('workspace/executeCommand', {
          command: 'fuse-ls.cancel',
          arguments: [scoped ? { uri: editorUri } : {}],
        });
        count = typeof result?.cancelled === 'number' ? result.cancelled : 0;
      } catch (error) {
        this.logger.error('fuse-ls.cancel failed', error);
      }
    }
    for (const source of waiting) {
      source.cancel();
    }
    // A request of this window the server had not started yet is cancelled all the same.
    count = Math.max(count, waiting.length);
    vscode.window.setStatusBarMessage(`fuse-ls: cancelled ${count} fusion${count === 1 ? '' : 's'}`, 4000);
    return count;
  }

  /**
   * "Verify fix" (palette, editor context menu): the fix of the fuse-ls finding under the
   * cursor is tried in an isolated copy with the project's checks (`verify.commands`);
   * then the fix preview asks to apply it, saying whether the checks passed, or asks
   * "apply anyway?" after showing the failure. The lightbulb's "Verify, then apply"
   * action (from the server) takes the same path through the command middleware.
   * `target`: the findings on these lines instead of the cursor's (a refused verified
   * fix's "Fix Again"); they are selected and shown.
   */
  async verifyFixAtCursor(target?: FusionArgs): Promise<VerifyResult | undefined> {
    const editor = target ? await showTarget(target) : vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showWarningMessage('fuse-ls: open a file with a fuse-ls finding to verify its fix.');
      return undefined;
    }
    const diagnostics = vscode.languages.getDiagnostics(editor.document.uri);
    const asked = target?.range ? selectedLines(target.range) : { start: editor.selection.active.line, end: editor.selection.active.line };
    const found = fixableFindingsAt(diagnostics, asked.start, asked.end);
    if (found.length === 0) {
      void vscode.window.showInformationMessage(`fuse-ls: no fuse-ls finding with a fix on ${asked.start === asked.end ? 'this line' : 'these lines'}.`);
      return undefined;
    }
    let chosen = found[0];
    if (found.length > 1) {
      const picked = await vscode.window.showQuickPick(
        found.map((d) => ({ label: d.message.split('\n')[0], description: `line ${d.range.start.line + 1}`, diagnostic: d })),
        { title: 'fuse-ls: Verify which fix?' },
      );
      if (!picked) {
        return undefined;
      }
      chosen = picked.diagnostic;
    }
    const client = this.requireClient();
    if (!client) {
      return undefined;
    }
    const args = this.keyed<VerifyArgs>({ uri: editor.document.uri.toString(), findingId: chosen.data!.findingId as string, apply: true });
    const lines = { start: chosen.range.start.line, end: chosen.range.end.line };
    return this.verifyWithProgress(args.uri, lines, true, args.requestKey, () => client.sendRequest<VerifyResult>('workspace/executeCommand', { command: VERIFY_FINDING, arguments: [args] }));
  }

  /**
   * The fix preview is about to ask whether to apply a fix. The server sends that question
   * when the fusion (a "Fused fix") or the checks (a "Verify fix" with apply) are over, and
   * answers the command only after the user did: the notification of the request the fix
   * belongs to ends now, not beside the question; the other requests' keep showing. A
   * fused fix's Cancel button goes with it: the models are done, and the question has its
   * own Discard.
   */
  readonly fixReady = (arrival: FixArrival): Promise<void> => this.fixWaits.arrived(arrival);

  /**
   * The fix preview refused a fix whose lines changed and said so, offering to fix them
   * again: the command's answer carries the same reason, which is then not repeated.
   */
  readonly fixRefused = (reason: string): void => {
    this.told.add(reason);
  };

  /**
   * `args` with a `requestKey` of this window's own when the server echoes one in the fix
   * it sends (capabilities.experimental.fuseLs.requestKey, docs/protocol.md): the fix then
   * ends its own request's notification, whatever lines it covers. An older server would
   * only ignore the key, but the heuristic match is what serves it, so none is sent.
   */
  private keyed<A extends object>(args: A): A & { requestKey?: string } {
    const experimental = this.client()?.initializeResult?.capabilities?.experimental as { fuseLs?: { requestKey?: unknown } } | undefined;
    if (experimental?.fuseLs?.requestKey !== true) {
      return args;
    }
    this.keys += 1;
    return { ...args, requestKey: `vscode-${this.keys}` };
  }

  private async verifyWithProgress(
    uri: unknown,
    lines: LineSpan | undefined,
    apply: boolean,
    requestKey: string | undefined,
    send: () => Promise<VerifyResult>,
  ): Promise<VerifyResult | undefined> {
    const title = 'fuse-ls: Verify fix';
    let result: VerifyResult | undefined;
    const checksOver = this.fixWaits.wait({ uri: typeof uri === 'string' ? uri : '', kind: 'verify', lines, requestKey });
    try {
      const sent = send();
      try {
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: false }, async (progress) => {
          progress.report({ message: "running the project's checks on the fix in an isolated copy…" });
          await Promise.race([sent, checksOver.arrived]);
        });
      } finally {
        checksOver.closed();
      }
      result = await sent;
    } catch (error) {
      this.logger.error('Verify fix failed', error);
      void vscode.window.showErrorMessage(this.forNotice(`${title} failed: ${describeError(error)}`), 'Show Logs').then((choice) => {
        if (choice === 'Show Logs') {
          this.channel.show(true);
        }
      });
      return undefined;
    } finally {
      checksOver.release();
    }
    const checks = result?.checks;
    const summary = typeof checks?.summary === 'string' ? checks.summary : 'no checks ran';
    if (checks?.passed !== true && typeof checks?.failingLines === 'string' && checks.failingLines !== '') {
      this.logger.info(`Verify fix: ${summary}\n${checks.failingLines}`);
    }
    if (result?.applied) {
      vscode.window.setStatusBarMessage(`fuse-ls: fix applied (${summary})`, 6000);
    } else if (apply && typeof result?.reason === 'string' && this.told.delete(result.reason)) {
      // Already said, with its "Fix Again" button.
    } else if (apply && result?.reason === 'discarded') {
      vscode.window.setStatusBarMessage('fuse-ls: fix discarded', 4000);
    } else if (apply) {
      const reason = typeof result?.reason === 'string' && result.reason !== '' ? result.reason : summary;
      void vscode.window.showWarningMessage(this.forNotice(`fuse-ls: the fix was not applied: ${reason}`));
    } else if (checks?.passed) {
      void vscode.window.showInformationMessage(`fuse-ls: the fix's ${summary}.`);
    } else {
      void vscode.window.showWarningMessage(this.forNotice(`fuse-ls: ${summary}`), 'Show Logs').then((choice) => {
        if (choice === 'Show Logs') {
          this.channel.show(true);
        }
      });
    }
    return result;
  }

  /**
   * "Fused review of changes" (palette and the Source Control view's title bar): the
   * server's `fuse-ls.reviewChanges` for the scope the user picks, in one cancellable
   * notification; findings land in the Problems panel file by file.
   */
  async reviewChanges(scope?: ChangeScope): Promise<ReviewChangesResult | undefined> {
    const client = this.requireClient();
    if (!client) {
      return undefined;
    }
    const chosen = scope ?? (await pickChangeScope());
    if (!chosen) {
      return undefined;
    }
    const source = new vscode.CancellationTokenSource();
    const title = 'fuse-ls: Fused review of changes';
    let result: ReviewChangesResult | undefined;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        async (progress, token) => {
          const mark = this.tracker.mark;
          const watch = this.tracker.onDidChange(() => {
            const running = this.tracker.running().filter((f) => f.seq >= mark).length;
            progress.report({ message: `${running} unit${running === 1 ? '' : 's'} with the models · ${formatUsd(this.tracker.sessionCostUsd)} this session` });
          });
          // The request's token: the client sends $/cancelRequest for this review alone,
          // which the server stops (fuse-ls.cancel {} would stop every fusion with it).
          const onCancel = token.onCancellationRequested(() => source.cancel());
          progress.report({ message: `${CHANGE_SCOPES.find((s) => s.scope === chosen)?.label ?? chosen}: reading the change…` });
          try {
            return await raceCancellation(
              client.sendRequest<ReviewChangesResult>('workspace/executeCommand', { command: REVIEW_CHANGES, arguments: [{ scope: chosen }] }, source.token),
              source.token,
            );
          } finally {
            watch.dispose();
            onCancel.dispose();
          }
        },
      );
    } catch (error) {
      if (error instanceof Cancelled || source.token.isCancellationRequested) {
        vscode.window.setStatusBarMessage(`${title}: cancelled`, 4000);
        return undefined;
      }
      this.logger.error('Fused review of changes failed', error);
      void vscode.window.showErrorMessage(this.forNotice(`${title} failed: ${describeError(error)}`), 'Show Logs').then((choice) => {
        if (choice === 'Show Logs') {
          this.channel.show(true);
        }
      });
      return undefined;
    } finally {
      source.dispose();
    }
    await this.presentChanges(result);
    return result;
  }

  private async presentChanges(result: ReviewChangesResult | undefined): Promise<void> {
    if (!result || typeof result.error === 'string') {
      return; // the server showed a git problem itself (window/showMessage)
    }
    if (result.cancelled) {
      vscode.window.setStatusBarMessage('fuse-ls: Fused review of changes cancelled', 4000);
      return;
    }
    const findings = Array.isArray(result.findings) ? result.findings : [];
    const files = new Set(findings.map((f) => (f as { uri?: unknown }).uri)).size;
    const units = typeof result.units === 'number' ? result.units : 0;
    const skipped = Array.isArray(result.skippedFiles) ? result.skippedFiles.length : 0;
    const failed = Array.isArray(result.failedUnits) ? result.failedUnits.length : 0;
    const notes = [skipped > 0 ? `${skipped} file${skipped === 1 ? '' : 's'} skipped` : '', failed > 0 ? `${failed} unit${failed === 1 ? '' : 's'} failed` : '']
      .filter((n) => n !== '')
      .join(', ');
    const tail = notes ? ` (${notes}; the log lists them)` : '';
    if (skipped > 0 || failed > 0) {
      this.logger.info(`Change review: skipped ${JSON.stringify(result.skippedFiles ?? [])}; failed ${JSON.stringify(result.failedUnits ?? [])}`);
    }
    if (units === 0 && findings.length === 0) {
      void vscode.window.showInformationMessage(`fuse-ls: no change to review${tail}.`);
      return;
    }
    if (findings.length === 0) {
      void vscode.window.showInformationMessage(`fuse-ls: the fused review of ${units} changed unit${units === 1 ? '' : 's'} found nothing to report${tail}.`);
      return;
    }
    const show = failed > 0 ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    const choice = await show(
      `fuse-ls: the fused review of changes found ${findings.length} issue${findings.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}${tail}.`,
      'Show Problems',
    );
    if (choice === 'Show Problems') {
      await vscode.commands.executeCommand('workbench.actions.view.problems');
    }
  }

  /**
   * Replaces the language client's `window/showMessage` handler: a multi-line message
   * (every model failed, one line per model) becomes one readable line with a
   * "Show Logs" button, and the whole text goes to the log.
   */
  /** Server or repository text as a notification shows it: no key, no link. */
  private forNotice(text: string): string {
    return inertLinks(this.logger.redact(text));
  }

  readonly showMessage = (params: { type?: number; message?: string }): void => {
    const message = inertLinks(this.logger.redact(String(params?.message ?? '')));
    const { headline, detailed } = notice(message);
    const type = params?.type ?? 3;
    if (type <= 2 || detailed) {
      this.logger.info(`${type === 1 ? 'Error' : type === 2 ? 'Warning' : 'Info'} from the server: ${message}`);
    }
    const buttons = type <= 2 || detailed ? ['Show Logs'] : [];
    const show = type === 1 ? vscode.window.showErrorMessage : type === 2 ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(headline, ...buttons).then((choice) => {
      if (choice === 'Show Logs') {
        this.channel.show(true);
      }
    });
  };

  async showStats(): Promise<void> {
    const client = this.requireClient();
    if (!client) {
      return;
    }
    const stats = await client.sendRequest<StatsResult>('workspace/executeCommand', { command: 'fuse-ls.stats', arguments: [{}] });
    const items: vscode.QuickPickItem[] = [
      {
        label: `$(graph) ${stats?.fusions ?? 0} fusion${stats?.fusions === 1 ? '' : 's'} · ${formatUsd(stats?.costUsd)} this session`,
        description: `running now: ${this.tracker.inFlight}`,
      },
    ];
    const models = Object.entries(stats?.models ?? {}).sort((a, b) => (b[1].costUsd ?? 0) - (a[1].costUsd ?? 0));
    for (const [id, m] of models) {
      const failures = m.failures ? ` · ${m.failures} failed` : '';
      const latency = typeof m.meanLatencyMs === 'number' ? ` · mean ${(m.meanLatencyMs / 1000).toFixed(1)}s` : '';
      items.push({
        label: id,
        description: `${formatUsd(m.costUsd)} · ${m.calls ?? 0} call${m.calls === 1 ? '' : 's'}${failures}`,
        detail: `${m.promptTokens ?? 0} prompt + ${m.completionTokens ?? 0} completion tokens${latency}`,
      });
    }
    if (models.length === 0) {
      items.push({ label: 'No model calls yet in this server session' });
    }
    await vscode.window.showQuickPick(items, { title: 'fuse-ls: usage and cost (this server session)', matchOnDescription: true });
  }

  private requireClient(): ClientLike | undefined {
    const client = this.client();
    if (!client) {
      void vscode.window
        .showErrorMessage('fuse-ls: the server is not running.', 'Show Logs', 'Choose Interpreter')
        .then((choice) => {
          if (choice === 'Show Logs') {
            this.channel.show(true);
          } else if (choice === 'Choose Interpreter') {
            void vscode.commands.executeCommand('fuseLs.selectInterpreter');
          }
        });
    }
    return client;
  }

  private async withProgress<R>(task: Task, args: FusionArgs, send: (token: vscode.CancellationToken) => Promise<R>): Promise<R | undefined> {
    const mark = this.tracker.mark;
    const source = new vscode.CancellationTokenSource();
    this.local.set(source, args.uri);
    const title = `fuse-ls: ${TITLES[task]}`;
    // A fix arrives as a question (the fix preview) before the command answers.
    const expected: FixExpectation = { uri: args.uri, kind: 'fix', lines: args.range ? selectedLines(args.range) : 'whole', requestKey: args.requestKey };
    const fixArrived = task === 'fix' ? this.fixWaits.wait(expected) : undefined;
    let sent: Promise<R> | undefined;
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        async (progress, token) => {
          let bound: string | undefined;
          const watch = this.tracker.onDidChange(() => {
            const fusion = bound !== undefined ? this.tracker.get(bound) : this.tracker.find(args.uri, task, mark, this.shown);
            if (fusion) {
              if (bound === undefined) {
                bound = fusion.fusionId;
                this.shown.add(bound);
              }
              progress.report({ message: describeModels(fusion) });
            }
          });
          // The request's token: the client sends $/cancelRequest for this request alone,
          // which stops its fusion on the server; another request on the document runs on.
          const onCancel = token.onCancellationRequested(() => source.cancel());
          progress.report({ message: 'asking the pool…' });
          try {
            sent = raceCancellation(send(source.token), source.token);
            await (fixArrived ? Promise.race([sent, fixArrived.arrived]) : sent);
          } finally {
            watch.dispose();
            onCancel.dispose();
            if (bound !== undefined) {
              this.shown.delete(bound);
            }
          }
        },
      );
      fixArrived?.closed();
      return await sent;
    } catch (error) {
      if (error instanceof Cancelled || source.token.isCancellationRequested) {
        vscode.window.setStatusBarMessage(`${title}: cancelled`, 4000);
        return undefined;
      }
      this.logger.error(`${TITLES[task]} failed`, error);
      void vscode.window.showErrorMessage(this.forNotice(`${title} failed: ${describeError(error)}`), 'Show Logs').then((choice) => {
        if (choice === 'Show Logs') {
          this.channel.show(true);
        }
      });
      return undefined;
    } finally {
      fixArrived?.release();
      this.local.delete(source);
      source.dispose();
    }
  }

  private async present(task: Task, result: unknown): Promise<void> {
    if (result === undefined || result === null || typeof result !== 'object') {
      return;
    }
    if ((result as { cancelled?: boolean }).cancelled) {
      vscode.window.setStatusBarMessage(`fuse-ls: ${TITLES[task]} cancelled`, 4000);
      return;
    }
    const error = (result as { error?: unknown }).error;
    if (typeof error === 'string') {
      // The server has already shown it (window/showMessage); a success line would contradict it.
      this.logger.error(`${TITLES[task]} failed on the server`, error);
      return;
    }
    const degraded = degradedNotes((result as { notes?: unknown }).notes);
    // `judge.status: "error"` (docs/protocol.md): the votes decided, whatever the notes say.
    const judge = (result as { judge?: { model?: unknown; status?: unknown; error?: unknown } | null }).judge;
    if (judge?.status === 'error' && !degraded.some((n) => /judge/i.test(n))) {
      const why = typeof judge.error === 'string' && judge.error !== '' ? judge.error : 'no reason given';
      degraded.unshift(`judge ${String(judge.model)} failed (${why}); the votes decided`);
    }
    if (degraded.length > 0) {
      this.logger.info(`${TITLES[task]} is degraded: ${degraded.join('; ')}`);
      void vscode.window.showWarningMessage(this.forNotice(`fuse-ls: ${TITLES[task]} is degraded: ${degraded.join('; ')}.`), 'Show Logs').then((choice) => {
        if (choice === 'Show Logs') {
          this.channel.show(true);
        }
      });
    }
    if (task === 'review') {
      await this.presentReview(result);
    } else if (task === 'explain') {
      const explain = result as ExplainResult;
      if (typeof explain.documentUri === 'string' && this.previewed.delete(explain.documentUri)) {
        return; // already on screen, from the server's window/showDocument
      }
      await showExplanation(explain, this.logger);
    } else {
      const fix = result as FixResult;
      if (fix.applied) {
        vscode.window.setStatusBarMessage('fuse-ls: fused fix applied', 4000);
      } else {
        const reason = typeof fix.reason === 'string' && fix.reason !== '' ? ` (${fix.reason})` : '';
        if (fix.reason === 'discarded') {
          vscode.window.setStatusBarMessage('fuse-ls: fused fix discarded', 4000);
        } else if (typeof fix.reason === 'string' && this.told.delete(fix.reason)) {
          // Already said, with its "Fix Again" button.
        } else {
          void vscode.window.showInformationMessage(this.forNotice(`fuse-ls: no fix was applied${reason}.`));
        }
      }
    }
  }

  private async presentReview(result: ReviewResult): Promise<void> {
    const findings = Array.isArray(result.findings) ? result.findings : [];
    const count = findings.length;
    if (count === 0) {
      void vscode.window.showInformationMessage('fuse-ls: the fused review found nothing to report.');
      return;
    }
    // VS Code's Problems panel does not list hints (a minority the judge did not confirm):
    // say so, or the count here and the panel's disagree.
    const hints = findings.filter((f) => (f as { severity?: unknown }).severity === 'hint').length;
    const note = hints > 0 ? ` (${hints === count ? (count === 1 ? 'it is a hint' : 'all hints') : `${hints} ${hints === 1 ? 'is a hint' : 'are hints'}`}: one model, unconfirmed; dotted in the editor, not in Problems)` : '';
    const choice = await vscode.window.showInformationMessage(
      `fuse-ls: the fused review found ${count} issue${count === 1 ? '' : 's'}${note}.`,
      'Show Problems',
    );
    if (choice === 'Show Problems') {
      await vscode.commands.executeCommand('workbench.actions.view.problems');
    }
  }
}

/**
 * Shows the explanation in a Markdown preview: the server's document when it exists on
 * disk, else an untitled Markdown document holding the returned text.
 */
export async function showExplanation(result: ExplainResult, logger: Logger): Promise<void> {
  if (typeof result.documentUri === 'string' && result.documentUri !== '') {
    const uri = vscode.Uri.parse(result.documentUri);
    try {
      await vscode.workspace.fs.stat(uri);
      await vscode.commands.executeCommand('markdown.showPreviewToSide', uri);
      return;
    } catch (error) {
      logger.info(`Explanation document ${result.documentUri} unavailable (${describeError(error)}); showing the text instead`);
    }
  }
  if (typeof result.markdown !== 'string') {
    return;
  }
  const document = await vscode.workspace.openTextDocument({ language: 'markdown', content: result.markdown });
  await vscode.commands.executeCommand('markdown.showPreviewToSide', document.uri);
}

/** Settles as soon as the token fires, so the notification closes without waiting for the server. */
function raceCancellation<R>(promise: Promise<R>, token: vscode.CancellationToken): Promise<R> {
  if (token.isCancellationRequested) {
    return Promise.reject(new Cancelled());
  }
  return new Promise<R>((resolve, reject) => {
    const listener = token.onCancellationRequested(() => {
      listener.dispose();
      reject(new Cancelled());
    });
    promise.then(
      (value) => {
        listener.dispose();
        resolve(value);
      },
      (error: unknown) => {
        listener.dispose();
        reject(error instanceof Error ? error : new Error(describeError(error)));
      },
    );
  });
}

/** `value` when it is a `{uri, range}` to run a command on (a Uri from a menu is not). */
export function fusionTarget(value: unknown): FusionArgs | undefined {
  const v = value as { uri?: unknown; range?: Partial<LspRange> } | undefined;
  const position = (p: unknown): boolean => {
    const q = p as { line?: unknown; character?: unknown } | undefined;
    return Number.isInteger(q?.line) && Number.isInteger(q?.character);
  };
  if (typeof v !== 'object' || v === null || typeof v.uri !== 'string' || !position(v.range?.start) || !position(v.range?.end)) {
    return undefined;
  }
  return { uri: v.uri, range: v.range as LspRange };
}

/** Opens `target`'s document with its range selected and in view. */
async function showTarget(target: FusionArgs): Promise<vscode.TextEditor | undefined> {
  try {
    const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(target.uri));
    const r = target.range;
    const selection = r ? new vscode.Selection(r.start.line, r.start.character, r.end.line, r.end.character) : undefined;
    return await vscode.window.showTextDocument(document, { preview: false, selection });
  } catch {
    return undefined;
  }
}

/** The lines of the fuse-ls finding `findingId` in `uri`, as the editor shows them now. */
function findingLines(uri: string, findingId: string): LineSpan | undefined {
  const found = (vscode.languages.getDiagnostics(vscode.Uri.parse(uri)) as readonly FindingDiagnostic[]).find(
    (d) => d.source === 'fuse-ls' && d.data?.findingId === findingId,
  );
  return found ? { start: found.range.start.line, end: found.range.end.line } : undefined;
}

/** One spelling of a document uri: the server may percent-encode what the editor does not. */
function sameUri(uri: string): string {
  try {
    return vscode.Uri.parse(uri).toString();
  } catch {
    return uri;
  }
}
