import * as os from 'os';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_PYTHON, expandPath, PYTHON_EXTENSION_ID, resolveInterpreter } from '../src/interpreter';
import { fake, Uri } from './fakes/vscode';
import { activate, resetFakes } from './helpers';

beforeEach(resetFakes);

function pythonExtension(executable: string | undefined, options: { throws?: boolean } = {}) {
  const listeners: (() => void)[] = [];
  const api = {
    environments: {
      getActiveEnvironmentPath: () => {
        if (options.throws) throw new Error('not ready');
        return { id: 'venv', path: '/ws/.venv' };
      },
      resolveEnvironment: () => Promise.resolve({ executable: { uri: executable ? Uri.file(executable) : undefined } }),
      onDidChangeActiveEnvironmentPath: (l: () => void) => {
        listeners.push(l);
        return { dispose() {} };
      },
    },
  };
  fake.extensions.set(PYTHON_EXTENSION_ID, { isActive: false, exports: undefined, activate: () => Promise.resolve(api) });
  return { fire: () => listeners.forEach((l) => l()) };
}

describe('interpreter', () => {
  it('uses the fuseLs.interpreter setting first, expanded', async () => {
    pythonExtension('/ws/.venv/bin/python');
    fake.workspaceFolders = [{ uri: Uri.file('/ws'), name: 'ws', index: 0 }];
    fake.setSetting('fuseLs.interpreter', '${workspaceFolder}/env/bin/python');
    expect(await resolveInterpreter(() => undefined)).toEqual({ path: '/ws/env/bin/python', source: 'setting' });
    expect(expandPath('~/py/bin/python', undefined)).toBe(`${os.homedir()}/py/bin/python`);
  });

  it('then the Python extension\'s active environment', async () => {
    pythonExtension('/ws/.venv/bin/python');
    expect(await resolveInterpreter(() => undefined)).toEqual({ path: '/ws/.venv/bin/python', source: 'python-extension' });
  });

  it('then python3, also when the Python extension fails', async () => {
    expect(await resolveInterpreter(() => undefined)).toEqual({ path: DEFAULT_PYTHON, source: 'default' });
    pythonExtension(undefined, { throws: true });
    const logged: string[] = [];
    expect(await resolveInterpreter((m) => logged.push(m))).toEqual({ path: DEFAULT_PYTHON, source: 'default' });
    expect(logged[0]).toContain('not ready');
  });

  it('restarts the server when the active environment changes, unless pinned', async () => {
    const ext = pythonExtension('/ws/.venv/bin/python');
    const { server } = await activate({ interpreter: (log) => resolveInterpreter(log) });
    expect(server.versionCalls[0].command).toBe('/ws/.venv/bin/python');
    ext.fire();
    await new Promise((r) => setTimeout(r, 10));
    expect(server.clients).toHaveLength(2);
    fake.settings.global['fuseLs.interpreter'] = '/pinned/python';
    ext.fire();
    await new Promise((r) => setTimeout(r, 10));
    expect(server.clients).toHaveLength(2);
  });
});
