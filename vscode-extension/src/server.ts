/**
 * Owns the server process: checks the install (`python -m fuse_ls --version`), offers to
 * install or upgrade it, starts the language client over stdio and restarts it when the
 * interpreter, the key or the key's variable changes.
 *
 * The language client and the process runner are injected so that unit tests run
 * without spawning anything (the real factories live in lsp.ts / process.ts).
 */
import * as vscode from 'vscode';
import type { ConfigurationParams, LanguageClientOptions, ResponseError } from 'vscode-languageclient/node';
import { effectiveApiKeyEnv, SECTION, vscodeReader } from './configuration';
import { resolveInterpreter, type Interpreter } from './interpreter';
import {
  buildLaunch,
  compareVersions,
  installArgs,
  isDevelopmentVersion,
  type Launch,
  MIN_SERVER_VERSION,
  minimumVersion,
  parseServerVersion,
  VERSION_ARGS,
} from './launch';
import { describeError, type Logger } from './log';
import type { ApiKeyStore } from './secrets';
import { buildServerSettings, sectionOf } from './settings';
import type { FusionStatusParams, FusionTracker, ModelStatusParams } from './tracker';

/** The slice of `LanguageClient` the extension uses; small so tests can fake it. */
export interface ClientLike {
  start(): Promise<void>;
  stop(timeout?: number): Promise<void>;
  sendRequest<R>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<R>;
  sendNotification(method: string, params?: unknown): Promise<void>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- mirrors LanguageClient's GenericNotificationHandler
  onNotification(method: string, handler: (...params: any[]) => void): { dispose(): void };
}

export interface ClientSpec {
  id: string;
  name: string;
  launch: Launch;
  clientOptions: LanguageClientOptions;
}

export type ClientFactory = (spec: ClientSpec) => ClientLike;

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the process could not run at all (ENOENT: no such interpreter). */
  error?: NodeJS.ErrnoException;
}

export type ProcessRunner = (command: string, args: readonly string[], timeoutMs: number) => Promise<ProcessResult>;

export type ServerState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'running'; version: string; python: string }
  | { kind: 'missing-python'; python: string; message: string }
  | { kind: 'missing'; python: string; message: string }
  | { kind: 'outdated'; python: string; message: string }
  | { kind: 'failed'; message: string };

export type CheckResult =
  | { ok: true; version: string }
  | { ok: false; state: Extract<ServerState, { kind: 'missing-python' | 'missing' | 'outdated' }> };

export const CLIENT_ID = 'fuseLs'; // also makes `fuseLs.trace.server` work
export const CLIENT_NAME = 'fuse-ls';
export const INSTALL_BUTTON = 'Install fuse-ls';
const VERSION_TIMEOUT_MS = 30_000;

export interface ServerManagerDeps {
  logger: Logger;
  channel: vscode.OutputChannel;
  keys: ApiKeyStore;
  tracker: FusionTracker;
  createClient: ClientFactory;
  runProcess: ProcessRunner;
  /** From commands.ts: routes the server's own code-action commands through our progress UI. */
  executeCommandMiddleware?: NonNullable<LanguageClientOptions['middleware']>['executeCommand'];
  /** From commands.ts: explanations open as a Markdown preview. */
  showDocumentMiddleware?: NonNullable<NonNullable<LanguageClientOptions['middleware']>['window']>['showDocument'];
  resolveInterpreter?: (log: (message: string) => void) => Promise<Interpreter>;
}

export class ServerManager implements vscode.Disposable {
  private current: ClientLike | undefined;
  private subscriptions: { dispose(): void }[] = [];
  private queue: Promise<void> = Promise.resolve();
  private stateValue: ServerState = { kind: 'stopped' };
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  readonly onDidChangeState = this.stateEmitter.event;
  python: string | undefined;

  constructor(private readonly deps: ServerManagerDeps) {}

  get state(): ServerState {
    return this.stateValue;
  }

  get client(): ClientLike | undefined {
    return this.stateValue.kind === 'running' ? this.current : undefined;
  }

  /** Start, stop and restart are queued so that quick successive changes cannot interleave. */
  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.doStop());
  }

  restart(reason: string): Promise<void> {
    this.deps.logger.info(`Restarting the server: ${reason}`);
    return this.enqueue(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  /** Pushes changed settings; the server then pulls `workspace/configuration` (answered below). */
  async pushSettings(): Promise<void> {
    const client = this.client;
    if (!client) {
      return;
    }
    const settings = buildServerSettings(vscodeReader());
    await client.sendNotification('workspace/didChangeConfiguration', { settings: { [SECTION]: settings } });
  }

  /** Runs `python -m fuse_ls --version` and judges the answer. */
  async check(python: string): Promise<CheckResult> {
    const { logger, runProcess } = this.deps;
    const result = await runProcess(python, VERSION_ARGS, VERSION_TIMEOUT_MS);
    if (result.error && result.error.code === 'ENOENT') {
      return {
        ok: false,
        state: {
          kind: 'missing-python',
          python,
          message: `fuse-ls: the Python interpreter "${python}" was not found. Set "fuseLs.interpreter" or select a Python environment.`,
        },
      };
    }
    const version = result.code === 0 ? parseServerVersion(result.stdout) : undefined;
    if (!version) {
      const why = (result.stderr || result.stdout || describeError(result.error ?? 'no output')).trim();
      logger.info(`"${python} ${VERSION_ARGS.join(' ')}" exited with ${String(result.code)}: ${lastLines(why, 5)}`);
      return {
        ok: false,
        state: {
          kind: 'missing',
          python,
          message: `fuse-ls: the server is not installed for ${python}. Install it into this environment (pip install fuse-ls) or choose another interpreter.`,
        },
      };
    }
    if (isDevelopmentVersion(version)) {
      logger.info(`Server reports ${version.text}: a source checkout, accepted as a development build`);
      return { ok: true, version: version.text };
    }
    if (compareVersions(version, minimumVersion()) < 0) {
      return {
        ok: false,
        state: {
          kind: 'outdated',
          python,
          message: `fuse-ls: the server for ${python} is ${version.text}; this extension needs ${MIN_SERVER_VERSION} or newer. Upgrade it with pip install --upgrade fuse-ls.`,
        },
      };
    }
    return { ok: true, version: version.text };
  }

  /** `python -m pip install --upgrade fuse-ls` in a visible task; restarts on success. */
  async install(python?: string): Promise<boolean> {
    const { logger } = this.deps;
    const interpreter = python ?? this.python ?? (await this.interpreter()).path;
    const args = installArgs();
    logger.info(`Installing: ${interpreter} ${args.join(' ')}`);
    const folder = vscode.workspace.workspaceFolders?.[0];
    const task = new vscode.Task(
      { type: 'fuse-ls', task: 'install' },
      folder ?? vscode.TaskScope.Global,
      'Install or upgrade fuse-ls',
      'fuse-ls',
      new vscode.ProcessExecution(interpreter, args),
    );
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, clear: true };
    const exitCode = await new Promise<number | undefined>((resolve) => {
      let execution: vscode.TaskExecution | undefined;
      const listener = vscode.tasks.onDidEndTaskProcess((event) => {
        if (execution === undefined || event.execution === execution) {
          listener.dispose();
          resolve(event.exitCode);
        }
      });
      vscode.tasks.executeTask(task).then(
        (started) => {
          execution = started;
        },
        (error: unknown) => {
          listener.dispose();
          logger.error('Could not run the install task', error);
          resolve(undefined);
        },
      );
    });
    if (exitCode === 0) {
      logger.info('fuse-ls installed');
      void vscode.window.showInformationMessage('fuse-ls: server installed; starting it.');
      await this.restart('server installed');
      return true;
    }
    logger.error(`Installing fuse-ls failed (exit code ${String(exitCode)})`);
    void vscode.window
      .showErrorMessage(
        `fuse-ls: installing the server failed (exit code ${String(exitCode)}). If pip reports an "externally-managed-environment", select a virtual environment or set "fuseLs.interpreter".`,
        'Show Logs',
        'Open Settings',
      )
      .then((choice) => this.onButton(choice));
    return false;
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(step, step);
    return this.queue;
  }

  private setState(state: ServerState): void {
    this.stateValue = state;
    this.stateEmitter.fire(state);
  }

  private async interpreter(): Promise<Interpreter> {
    const resolve = this.deps.resolveInterpreter ?? resolveInterpreter;
    return resolve((message) => this.deps.logger.info(message));
  }

  private async doStart(): Promise<void> {
    const { logger, keys, tracker } = this.deps;
    this.setState({ kind: 'starting' });
    const interpreter = await this.interpreter();
    this.python = interpreter.path;
    logger.info(`Interpreter: ${interpreter.path} (from ${interpreter.source})`);
    const check = await this.check(interpreter.path);
    if (!check.ok) {
      logger.error(check.state.message);
      this.setState(check.state);
      this.promptFor(check.state);
      return;
    }
    logger.info(`Server version ${check.version}`);

    const apiKeyEnv = effectiveApiKeyEnv();
    const launch = buildLaunch({
      python: interpreter.path,
      read: vscodeReader(),
      apiKeyEnv,
      apiKey: await keys.get(),
      baseEnv: process.env,
      cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    });
    // Names only: the value of a key never reaches the log.
    const keyNote = launch.envKeys.length > 0 ? `; ${launch.envKeys.join(', ')} from secret storage` : `; no stored key (${apiKeyEnv} is inherited if set)`;
    logger.info(`Starting ${launch.command} ${launch.args.join(' ')}${keyNote}`);

    const client = this.deps.createClient({
      id: CLIENT_ID,
      name: CLIENT_NAME,
      launch,
      clientOptions: this.clientOptions(launch),
    });
    this.current = client;
    tracker.reset();
    this.subscriptions = [
      client.onNotification('fuse/modelStatus', (params: ModelStatusParams) => tracker.applyModelStatus(params)),
      client.onNotification('fuse/fusionStatus', (params: FusionStatusParams) => tracker.applyFusionStatus(params)),
    ];
    try {
      await client.start();
    } catch (error) {
      logger.error('The server failed to start', error);
      this.disposeSubscriptions();
      this.current = undefined;
      const message = logger.redact(`fuse-ls: the server failed to start (${describeError(error)}).`);
      this.setState({ kind: 'failed', message });
      void vscode.window.showErrorMessage(message, 'Show Logs').then((choice) => this.onButton(choice));
      return;
    }
    this.setState({ kind: 'running', version: check.version, python: interpreter.path });
  }

  private async doStop(): Promise<void> {
    const client = this.current;
    this.current = undefined;
    this.disposeSubscriptions();
    if (client) {
      try {
        await client.stop(5_000);
      } catch (error) {
        this.deps.logger.error('Stopping the server failed', error);
      }
    }
    this.deps.tracker.reset();
    this.setState({ kind: 'stopped' });
  }

  private disposeSubscriptions(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.subscriptions = [];
  }

  private clientOptions(launch: Launch): LanguageClientOptions {
    return {
      // fuse-ls reviews any language, so every file and untitled buffer is synced.
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      initializationOptions: launch.initializationOptions,
      outputChannel: this.deps.channel,
      traceOutputChannel: this.deps.channel,
      diagnosticCollectionName: 'fuse-ls',
      middleware: {
        executeCommand: this.deps.executeCommandMiddleware,
        window: { showDocument: this.deps.showDocumentMiddleware },
        workspace: {
          // The default handler would answer with VS Code's whole section, defaults and
          // client-only keys included; answer with exactly what initialize carried.
          configuration: async (params: ConfigurationParams, token, next) => {
            const ours = (section: string | undefined): boolean =>
              section === SECTION || (section?.startsWith(`${SECTION}.`) ?? false);
            const others = params.items.some((item) => !ours(item.section));
            const answer: unknown = others ? await next(params, token) : [];
            if (!Array.isArray(answer)) {
              return answer as ResponseError;
            }
            const fallback = answer as unknown[];
            return params.items.map((item, i) => {
              if (!ours(item.section)) {
                return fallback[i] ?? null;
              }
              const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
              const settings = buildServerSettings(vscodeReader(scope));
              const sub = item.section === SECTION ? '' : (item.section ?? '').slice(SECTION.length + 1);
              return sectionOf(settings, sub) ?? null;
            });
          },
        },
      },
    };
  }

  private promptFor(state: Extract<ServerState, { kind: 'missing-python' | 'missing' | 'outdated' }>): void {
    const buttons = state.kind === 'missing-python' ? ['Open Settings', 'Show Logs'] : [INSTALL_BUTTON, 'Open Settings', 'Show Logs'];
    void vscode.window.showErrorMessage(state.message, ...buttons).then((choice) => this.onButton(choice));
  }

  private async onButton(choice: string | undefined): Promise<void> {
    if (choice === INSTALL_BUTTON) {
      await this.install();
    } else if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'fuseLs.interpreter');
    } else if (choice === 'Show Logs') {
      this.deps.channel.show(true);
    }
  }
}

function lastLines(text: string, n: number): string {
  return text.split(/\r?\n/).slice(-n).join(' | ');
}
