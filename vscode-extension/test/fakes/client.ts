/** A fake language client: records what the extension asks of the server, spawns nothing. */
import type { ClientFactory, ClientLike, ClientSpec, ProcessResult, ProcessRunner } from '../../src/server';
import { CancellationTokenSource } from './vscode';

type Handler = (...params: unknown[]) => void;
type Token = { isCancellationRequested: boolean; onCancellationRequested(l: () => void): { dispose(): void } };

export interface RequestRecord {
  method: string;
  params: { command?: string; arguments?: unknown[] } & Record<string, unknown>;
  token?: Token;
}

/** Answers `workspace/executeCommand` by command name; may return a promise. */
export type Responder = (command: string, args: unknown[], token?: Token) => unknown;

export class FakeClient implements ClientLike {
  started = false;
  stopped = false;
  requests: RequestRecord[] = [];
  notifications: { method: string; params: unknown }[] = [];
  handlers = new Map<string, Handler>();
  startError: Error | undefined;
  /** Set by `start()` from FakeServer.initializeResult, as the real client sets it. */
  initializeResult: { capabilities: { experimental?: unknown } } | undefined;
  serverInitializeResult: { capabilities: { experimental?: unknown } } = { capabilities: {} };

  constructor(
    readonly spec: ClientSpec,
    private readonly responder: () => Responder,
  ) {}

  start(): Promise<void> {
    if (this.startError) return Promise.reject(this.startError);
    this.started = true;
    this.initializeResult = this.serverInitializeResult;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }

  sendRequest<R>(method: string, params: unknown, token?: Token): Promise<R> {
    const p = params as RequestRecord['params'];
    this.requests.push({ method, params: p, token });
    if (method === 'workspace/executeCommand') {
      return Promise.resolve(this.responder()(p.command ?? '', p.arguments ?? [], token) as R);
    }
    return Promise.resolve(undefined as R);
  }

  sendNotification(method: string, params?: unknown): Promise<void> {
    this.notifications.push({ method, params });
    return Promise.resolve();
  }

  requestHandlers = new Map<string, (...params: unknown[]) => unknown>();

  onRequest(method: string, handler: (...params: unknown[]) => unknown): { dispose(): void } {
    this.requestHandlers.set(method, handler);
    return { dispose: () => this.requestHandlers.delete(method) };
  }

  /** The server sends a request (workspace/applyEdit); resolves with the client's answer. */
  async serverRequest(method: string, params: unknown): Promise<unknown> {
    const handler = this.requestHandlers.get(method);
    if (!handler) throw new Error(`no handler for ${method}`);
    return handler(params);
  }

  onNotification(method: string, handler: Handler): { dispose(): void } {
    this.handlers.set(method, handler);
    return { dispose: () => this.handlers.delete(method) };
  }

  /** The server sends a notification. */
  emit(method: string, params: unknown): void {
    this.handlers.get(method)?.(params);
  }

  /** Writes to the output channel the real client would write server stderr to. */
  writeServerStderr(text: string): void {
    this.spec.clientOptions.outputChannel?.append(text);
  }

  executeCommands(): RequestRecord[] {
    return this.requests.filter((r) => r.method === 'workspace/executeCommand');
  }
}

export class FakeServer {
  clients: FakeClient[] = [];
  /** `python -m fuse_ls --version` with the interpreter's own packages. */
  versionOutput: ProcessResult = { code: 0, stdout: 'fuse-ls 0.1.0\n', stderr: '' };
  /** The same with PYTHONPATH at the extension's bundled copy. */
  bundledOutput: ProcessResult = { code: 0, stdout: 'fuse-ls 0.1.0\n', stderr: '' };
  /** `python -c 'print(version)'`, asked when neither runs. */
  pythonVersion: ProcessResult = { code: 0, stdout: '3.12.1\n', stderr: '' };
  versionCalls: { command: string; args: readonly string[]; env?: Record<string, string> }[] = [];
  startError: Error | undefined;
  /** What the server answers `initialize` with (an older server: no experimental). */
  initializeResult: { capabilities: { experimental?: unknown } } = { capabilities: {} };
  responder: Responder = (command) => {
    switch (command) {
      case 'fuse-ls.review':
        return { fusionId: 'f1', findings: [{ findingId: 'f1-1' }], cancelled: false };
      case 'fuse-ls.explain':
        return { fusionId: 'f1', markdown: '# Explanation', documentUri: 'file:///tmp/explain.md', cancelled: false };
      case 'fuse-ls.fix':
        return { fusionId: 'f1', applied: true, cancelled: false };
      case 'fuse-ls.cancel':
        return { cancelled: 1 };
      case 'fuse-ls.stats':
        return { fusions: 0, costUsd: 0, models: {} };
      default:
        return undefined;
    }
  };

  readonly createClient: ClientFactory = (spec) => {
    const client = new FakeClient(spec, () => this.responder);
    client.startError = this.startError;
    client.serverInitializeResult = this.initializeResult;
    this.clients.push(client);
    return client;
  };

  readonly runProcess: ProcessRunner = (command, args, _timeout, env) => {
    this.versionCalls.push(env ? { command, args, env } : { command, args });
    if (args[0] === '-c') return Promise.resolve(this.pythonVersion);
    return Promise.resolve(env?.PYTHONPATH ? this.bundledOutput : this.versionOutput);
  };

  get last(): FakeClient {
    const client = this.clients[this.clients.length - 1];
    if (!client) throw new Error('no client was created');
    return client;
  }
}

/** Resolves after pending promise callbacks and timers of 0 ms have run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

export { CancellationTokenSource };
