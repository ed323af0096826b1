/**
 * Owns the server process: picks the interpreter's own fuse-ls or the copy bundled in the
 * extension (`python -m fuse_ls --version`), starts the language client over stdio and restarts it when the
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
  bundledEnv,
  compareVersions,
  isDevelopmentVersion,
  type Launch,
  MIN_PYTHON,
  MIN_SERVER_VERSION,
  minimumVersion,
  parseServerVersion,
  PYTHON_VERSION_ARGS,
  SAFE_PATH_ENV,
  pythonTooOld,
  VERSION_ARGS,
} from './launch';
import { describeError, type Logger } from './log';
import { inertLinks } from './messages';
import { uniqueDiagnostics } from './diagnostics';
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
  /** Registered before start(), a handler replaces the client's default for that method. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- mirrors LanguageClient's GenericRequestHandler
  onRequest(method: string, handler: (...params: any[]) => unknown): { dispose(): void };
  /** The server's answer to `initialize`, once started. */
  readonly initializeResult?: { capabilities?: { experimental?: unknown } };
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

/** `env` is added to the inherited environment. */
export type ProcessRunner = (command: string, args: readonly string[], timeoutMs: number, env?: Record<string, string>) => Promise<ProcessResult>;

export type ServerState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'running'; version: string; python: string; bundled: boolean }
  | { kind: 'missing-python'; python: string; message: string }
  | { kind: 'missing'; python: string; message: string }
  | { kind: 'failed'; message: string };

export type CheckResult =
  | { ok: true; version: string; bundled: boolean }
  | { ok: false; state: Extract<ServerState, { kind: 'missing-python' | 'missing' }> };

export const CLIENT_ID = 'fuseLs'; // also makes `fuseLs.trace.server` work
export const CLIENT_NAME = 'fuse-ls';
export const SETTINGS_BUTTON = 'Open Settings';
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
  /** `bundled/libs` inside the installed extension (absent in a development checkout). */
  bundledLibs?: string;
  /** Registers handlers that replace the language client's defaults (see commands.ts). */
  onClientCreated?: (client: ClientLike) => { dispose(): void }[];
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

  /**
   * Which server runs: the interpreter's own fuse-ls when it has one recent enough (a
   * configured interpreter with its own install wins), else the copy bundled in the
   * extension, run by the same interpreter. Failing both, says why in a user's terms.
   */
  async check(python: string): Promise<CheckResult> {
    const { logger, runProcess, bundledLibs } = this.deps;
    const own = await runProcess(python, VERSION_ARGS, VERSION_TIMEOUT_MS, { ...SAFE_PATH_ENV });
    if (own.error && own.error.code === 'ENOENT') {
      return {
        ok: false,
        state: {
          kind: 'missing-python',
          python,
          message: `fuse-ls: the Python interpreter "${python}" was not found. fuse-ls needs Python ${MIN_PYTHON} or newer: install it, select it with the Python extension, or set "fuseLs.interpreter".`,
        },
      };
    }
    const ownVersion = own.code === 0 ? parseServerVersion(own.stdout) : undefined;
    if (ownVersion && (isDevelopmentVersion(ownVersion) || compareVersions(ownVersion, minimumVersion()) >= 0)) {
      if (isDevelopmentVersion(ownVersion)) {
        logger.info(`Server reports ${ownVersion.text}: a source checkout, accepted as a development build`);
      }
      return { ok: true, version: ownVersion.text, bundled: false };
    }
    if (ownVersion) {
      logger.info(`${python} has fuse-ls ${ownVersion.text}, older than ${MIN_SERVER_VERSION}; using the bundled server`);
    } else {
      logger.info(`${python} has no fuse-ls of its own (${lastLines((own.stderr || own.stdout).trim(), 2)}); using the bundled server`);
    }
    if (bundledLibs !== undefined) {
      const bundled = await runProcess(python, VERSION_ARGS, VERSION_TIMEOUT_MS, { ...bundledEnv(bundledLibs, process.env), ...SAFE_PATH_ENV });
      const version = bundled.code === 0 ? parseServerVersion(bundled.stdout) : undefined;
      if (version) {
        return { ok: true, version: version.text, bundled: true };
      }
      logger.info(`The bundled server did not start with ${python}: ${lastLines((bundled.stderr || bundled.stdout).trim(), 5)}`);
    }
    const probe = await runProcess(python, PYTHON_VERSION_ARGS, VERSION_TIMEOUT_MS);
    const old = probe.code === 0 ? pythonTooOld(probe.stdout) : undefined;
    if (old !== undefined) {
      return {
        ok: false,
        state: {
          kind: 'missing-python',
          python,
          message: `fuse-ls: ${python} is Python ${old}; fuse-ls needs Python ${MIN_PYTHON} or newer. Select a newer interpreter with the Python extension or set "fuseLs.interpreter".`,
        },
      };
    }
    return {
      ok: false,
      state: {
        kind: 'missing',
        python,
        message:
          bundledLibs === undefined
            ? `fuse-ls: ${python} has no fuse-ls server and this build of the extension bundles none. Install fuse-ls into that environment (pip install <fuse-ls checkout or wheel>) or choose another interpreter.`
            : `fuse-ls: the server bundled with the extension did not start with ${python}. The log says why.`,
      },
    };
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
    logger.info(`Server version ${check.version} (${check.bundled ? 'bundled with the extension' : `installed for ${interpreter.path}`})`);

    const apiKeyEnv = effectiveApiKeyEnv();
    const launch = buildLaunch({
      python: interpreter.path,
      read: vscodeReader(),
      apiKeyEnv,
      apiKey: await keys.get(),
      baseEnv: process.env,
      cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      workspaceTrusted: vscode.workspace.isTrusted,
      bundledLibs: check.bundled ? this.deps.bundledLibs : undefined,
    });
    // Names only: the value of a key never reaches the log.
    const keyNote = launch.keyEnv ? `; ${launch.keyEnv} from secret storage` : `; no stored key (${apiKeyEnv} is inherited if set)`;
    const bundledNote = launch.bundled ? `; PYTHONPATH=${this.deps.bundledLibs ?? ''} (the bundled server)` : '';
    logger.info(`Starting ${launch.command} ${launch.args.join(' ')}${bundledNote}${keyNote}`);

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
      ...(this.deps.onClientCreated?.(client) ?? []),
    ];
    try {
      await client.start();
    } catch (error) {
      logger.error('The server failed to start', error);
      this.disposeSubscriptions();
      this.current = undefined;
      // The reason is the server's or the process's own text (an initialize error, a path
      // from the environment): no link in it may run a command when clicked.
      const message = inertLinks(logger.redact(`fuse-ls: the server failed to start (${describeError(error)}).`));
      this.setState({ kind: 'failed', message });
      void vscode.window.showErrorMessage(message, 'Show Logs').then((choice) => this.onButton(choice));
      return;
    }
    this.setState({ kind: 'running', version: check.version, python: interpreter.path, bundled: check.bundled });
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
        handleDiagnostics: (uri, diagnostics, next) => next(uri, uniqueDiagnostics(diagnostics)),
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

  private promptFor(state: Extract<ServerState, { kind: 'missing-python' | 'missing' }>): void {
    void vscode.window.showErrorMessage(inertLinks(state.message), SETTINGS_BUTTON, 'Show Logs').then((choice) => this.onButton(choice));
  }

  private async onButton(choice: string | undefined): Promise<void> {
    if (choice === SETTINGS_BUTTON) {
      await openInterpreterSetting();
    } else if (choice === 'Show Logs') {
      this.deps.channel.show(true);
    }
  }
}

/**
 * `fuseLs.interpreter` is machine-overridable: in a remote window (SSH, WSL, containers,
 * code-server) the Settings editor shows it under the Remote tab only, so that is where
 * "Open Settings" must land, or the user sees an empty User tab.
 */
export async function openInterpreterSetting(): Promise<void> {
  const command = vscode.env.remoteName ? 'workbench.action.openRemoteSettings' : 'workbench.action.openSettings';
  await vscode.commands.executeCommand(command, { query: `${SECTION}.interpreter` });
}

function lastLines(text: string, n: number): string {
  return text.split(/\r?\n/).slice(-n).join(' | ');
}
