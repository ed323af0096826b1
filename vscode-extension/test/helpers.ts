import { activateWith, type FuseLsApi } from '../src/activation';
import type { Interpreter } from '../src/interpreter';
import { FakeServer } from './fakes/client';
import { fake, makeContext } from './fakes/vscode';

export const PYTHON = '/venv/bin/python';
export const BUNDLED = '/ext/bundled/libs';

export interface Harness {
  server: FakeServer;
  context: ReturnType<typeof makeContext>;
  api: FuseLsApi;
}

/**
 * Activates the extension against the fakes. `before` runs after the fake server exists
 * and before activation, to script the version check or store a key first.
 */
export async function activate(options: {
  before?: (server: FakeServer, context: ReturnType<typeof makeContext>) => void | Promise<void>;
  interpreter?: (log: (m: string) => void) => Promise<Interpreter>;
  /** The extension's bundled server; undefined: a build without one. */
  bundledLibs?: string;
} = {}): Promise<Harness> {
  const server = new FakeServer();
  const context = makeContext();
  await options.before?.(server, context);
  const api = activateWith(context as never, {
    createClient: server.createClient,
    runProcess: server.runProcess,
    resolveInterpreter: options.interpreter ?? (() => Promise.resolve({ path: PYTHON, source: 'setting' as const })),
    bundledLibs: 'bundledLibs' in options ? options.bundledLibs : BUNDLED,
  });
  await api.started;
  return { server, context, api };
}

export function resetFakes(): void {
  fake.reset();
}
