/**
 * Wires everything together. Kept apart from extension.ts so tests can activate with a
 * fake language client and process runner (extension.ts imports the real ones).
 */
import * as vscode from 'vscode';
import { Fusions, fusionTarget, type Task } from './commands';
import { effectiveApiKeyEnv, SECTION } from './configuration';
import { type Interpreter, pythonExtensionApi } from './interpreter';
import { FixPreview } from './fixpreview';
import { Logger, RedactingOutputChannel, Redactor } from './log';
import { choosePool } from './pool';
import { ApiKeyStore, promptForApiKey } from './secrets';
import { type ClientFactory, openInterpreterSetting, type ProcessRunner, ServerManager } from './server';
import { RESTART_SETTINGS, SERVER_SETTINGS } from './settings';
import { StatusView } from './status';
import { FusionTracker } from './tracker';

export const COMMANDS = [
  'fuseLs.review',
  'fuseLs.explain',
  'fuseLs.fix',
  'fuseLs.verifyFix',
  'fuseLs.reviewChanges',
  'fuseLs.cancel',
  'fuseLs.showStats',
  'fuseLs.setApiKey',
  'fuseLs.choosePool',
  'fuseLs.selectInterpreter',
  'fuseLs.showLogs',
  'fuseLs.restartServer',
] as const;

export interface ActivationDeps {
  createClient: ClientFactory;
  runProcess: ProcessRunner;
  resolveInterpreter?: (log: (message: string) => void) => Promise<Interpreter>;
  /** `bundled/libs` of the installed extension, when it holds the server. */
  bundledLibs?: string;
}

/** What activate returns; tests use it, other extensions may too. */
export interface FuseLsApi {
  manager: ServerManager;
  tracker: FusionTracker;
  fusions: Fusions;
  status: StatusView;
  keys: ApiKeyStore;
  /** Settles once the first start attempt is over (started, or an error was shown). */
  started: Promise<void>;
}

export function activateWith(context: vscode.ExtensionContext, deps: ActivationDeps): FuseLsApi {
  const redactor = new Redactor();
  const channel = new RedactingOutputChannel(vscode.window.createOutputChannel('fuse-ls'), redactor);
  const logger = new Logger(channel, redactor);
  const keys = new ApiKeyStore(context.secrets, redactor);
  const tracker = new FusionTracker();
  const holder: { manager?: ServerManager } = {};
  const fusions = new Fusions(tracker, () => holder.manager?.client, logger, channel);
  // A fused fix's or a verification's progress ends when its fix is shown: the models
  // and the checks are done by then.
  const fixes = new FixPreview(logger, fusions.fixReady, fusions.fixRefused);
  const manager = new ServerManager({
    logger,
    channel,
    keys,
    tracker,
    createClient: deps.createClient,
    runProcess: deps.runProcess,
    resolveInterpreter: deps.resolveInterpreter,
    bundledLibs: deps.bundledLibs,
    executeCommandMiddleware: fusions.executeCommandMiddleware,
    showDocumentMiddleware: fusions.showDocumentMiddleware,
    // Registered before start(), so they replace the language client's own handlers.
    onClientCreated: (client) => [
      client.onRequest('workspace/applyEdit', fixes.applyEdit),
      client.onNotification('window/showMessage', fusions.showMessage),
    ],
  });
  holder.manager = manager;
  const status = new StatusView(tracker, manager.onDidChangeState);
  context.subscriptions.push(channel, manager, status, fixes);

  const run = (task: Task) => () => fusions.runOnEditor(task);
  const handlers: Record<(typeof COMMANDS)[number], (...args: unknown[]) => unknown> = {
    'fuseLs.review': run('review'),
    'fuseLs.explain': run('explain'),
    // With a {uri, range}: those lines (a refused fix's "Fix Again"), else the selection.
    'fuseLs.fix': (target?: unknown) => fusions.runOnEditor('fix', fusionTarget(target)),
    // With a {uri, range}: the finding on those lines (a refused verified fix's "Fix Again").
    'fuseLs.verifyFix': (target?: unknown) => fusions.verifyFixAtCursor(fusionTarget(target)),
    'fuseLs.reviewChanges': () => fusions.reviewChanges(),
    'fuseLs.cancel': () => fusions.cancel(),
    'fuseLs.showStats': () => fusions.showStats(),
    'fuseLs.setApiKey': () => promptForApiKey(keys, effectiveApiKeyEnv()),
    'fuseLs.choosePool': () => choosePool(),
    'fuseLs.selectInterpreter': () => openInterpreterSetting(),
    'fuseLs.showLogs': () => channel.show(true),
    'fuseLs.restartServer': () => manager.restart('requested'),
  };
  for (const command of COMMANDS) {
    context.subscriptions.push(vscode.commands.registerCommand(command, handlers[command]));
  }

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      const affects = (key: string): boolean => event.affectsConfiguration(`${SECTION}.${key}`);
      if (RESTART_SETTINGS.some(affects)) {
        void manager.restart('interpreter or key variable changed');
      } else if (SERVER_SETTINGS.some(affects)) {
        manager.pushSettings().catch((error: unknown) => logger.error('Sending settings failed', error));
      }
    }),
    // The key reaches the server only through its environment: a new key needs a new process.
    keys.onDidChange(() => void manager.restart('API key changed')),
  );

  const started = manager.start().then(() => watchPythonEnvironment(context, manager, logger));
  return { manager, tracker, fusions, status, keys, started };
}

/** Follow the Python extension's interpreter choice unless the user pinned one. */
async function watchPythonEnvironment(context: vscode.ExtensionContext, manager: ServerManager, logger: Logger): Promise<void> {
  try {
    const event = (await pythonExtensionApi())?.environments?.onDidChangeActiveEnvironmentPath;
    if (!event) {
      return;
    }
    context.subscriptions.push(
      event(() => {
        const pinned = vscode.workspace.getConfiguration(SECTION).get<string>('interpreter');
        if (!pinned) {
          void manager.restart('Python environment changed');
        }
      }),
    );
  } catch (error) {
    logger.error('Could not watch the Python environment', error);
  }
}
