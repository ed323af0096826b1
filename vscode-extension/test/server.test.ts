import { beforeEach, describe, expect, it } from 'vitest';
import { SETTINGS_BUTTON } from '../src/server';
import { settle } from './fakes/client';
import { fake } from './fakes/vscode';
import { activate, BUNDLED, PYTHON, resetFakes } from './helpers';

beforeEach(resetFakes);

describe('server install check', () => {
  it('explains a missing interpreter, without an install button', async () => {
    const { server, api } = await activate({
      before: (s) => {
        s.versionOutput = { code: null, stdout: '', stderr: '', error: Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' }) };
      },
    });
    expect(server.clients).toHaveLength(0);
    expect(api.manager.state.kind).toBe('missing-python');
    const [error] = fake.messages;
    expect(error.kind).toBe('error');
    expect(error.text).toContain(`"${PYTHON}" was not found`);
    expect(error.text).toContain('fuseLs.interpreter');
    expect(error.items).toEqual([SETTINGS_BUTTON, 'Show Logs']);
    expect(fake.statusItems[0].text).toContain('$(error)');
  });

  it('runs the bundled server when the interpreter has no fuse-ls of its own', async () => {
    const { server, api } = await activate({
      before: (s) => {
        s.versionOutput = { code: 1, stdout: '', stderr: '/venv/bin/python: No module named fuse_ls\n' };
      },
    });
    expect(fake.messages).toEqual([]);
    expect(server.versionCalls.map((c) => c.env?.PYTHONPATH)).toEqual([undefined, BUNDLED]);
    expect(api.manager.state).toEqual({ kind: 'running', version: '0.1.0', python: PYTHON, bundled: true });
    const { launch } = server.last.spec;
    expect(launch.command).toBe(PYTHON);
    expect(launch.args).toEqual(['-m', 'fuse_ls', 'serve']);
    expect(launch.env.PYTHONPATH).toBe(BUNDLED);
    expect(fake.output).toContain('has no fuse-ls of its own');
    expect(fake.output).toContain('bundled with the extension');
    expect(fake.output).toContain(`PYTHONPATH=${BUNDLED} (the bundled server); no stored key`);
    expect(fake.output).not.toContain('PYTHONPATH, PYTHONDONTWRITEBYTECODE from secret storage');
  });

  it('lets an interpreter with its own fuse-ls win over the bundled copy', async () => {
    const { server, api } = await activate();
    expect(server.versionCalls).toHaveLength(1);
    expect(api.manager.state).toMatchObject({ kind: 'running', bundled: false });
    expect(server.last.spec.launch.env.PYTHONPATH).toBe(process.env.PYTHONPATH);
  });

  it('prefers the bundled copy over an own install older than the minimum', async () => {
    const { api } = await activate({
      before: (s) => {
        s.versionOutput = { code: 0, stdout: 'fuse-ls 0.0.9\n', stderr: '' };
      },
    });
    expect(api.manager.state).toMatchObject({ kind: 'running', bundled: true });
    expect(fake.output).toContain('fuse-ls 0.0.9, older than 0.1.0');
  });

  it('says which Python is too old when the bundled server cannot run on it', async () => {
    const { server, api } = await activate({
      before: (s) => {
        s.versionOutput = { code: 1, stdout: '', stderr: 'No module named fuse_ls' };
        s.bundledOutput = { code: 1, stdout: '', stderr: 'SyntaxError: invalid syntax' };
        s.pythonVersion = { code: 0, stdout: '3.9.18\n', stderr: '' };
      },
    });
    expect(server.clients).toHaveLength(0);
    expect(api.manager.state.kind).toBe('missing-python');
    const [error] = fake.messages;
    expect(error.text).toContain('Python 3.9.18');
    expect(error.text).toContain('3.11 or newer');
    expect(error.items).toEqual([SETTINGS_BUTTON, 'Show Logs']);
    expect(fake.output).toContain('SyntaxError');
  });

  it('opens the interpreter setting where the window shows it (Remote tab in a remote window)', async () => {
    const { api } = await activate({
      before: (s) => {
        fake.answerMessage = (m) => (m.items.includes(SETTINGS_BUTTON) ? SETTINGS_BUTTON : undefined);
        s.versionOutput = { code: 1, stdout: '', stderr: 'No module named fuse_ls' };
      },
      bundledLibs: undefined,
    });
    await settle(5);
    expect(api.manager.state.kind).toBe('missing');
    expect(fake.messages[0].text).toContain('bundles none');
    expect(fake.executed).toContainEqual({ command: 'workbench.action.openSettings', args: [{ query: 'fuseLs.interpreter' }] });
    fake.remoteName = 'ssh-remote';
    await api.manager.restart('test');
    await settle(5);
    expect(fake.executed).toContainEqual({ command: 'workbench.action.openRemoteSettings', args: [{ query: 'fuseLs.interpreter' }] });
  });

  it('accepts a source checkout (0.0.0) as a development build', async () => {
    const { server } = await activate({
      before: (s) => {
        s.versionOutput = { code: 0, stdout: 'fuse-ls 0.0.0\n', stderr: '' };
      },
    });
    expect(server.clients).toHaveLength(1);
    expect(fake.messages).toEqual([]);
  });

  it('treats output that is no version as a missing server', async () => {
    const { api } = await activate({
      before: (s) => {
        s.versionOutput = { code: 0, stdout: 'something else\n', stderr: '' };
        s.bundledOutput = { code: 0, stdout: 'something else\n', stderr: '' };
      },
    });
    expect(api.manager.state.kind).toBe('missing');
  });

  it('shows an error with the logs when the client fails to start', async () => {
    const { api } = await activate({
      before: (s) => {
        s.startError = new Error('server exited with code 1');
      },
    });
    expect(api.manager.state.kind).toBe('failed');
    expect(fake.messages[0].text).toContain('server exited with code 1');
    expect(fake.messages[0].items).toEqual(['Show Logs']);
  });

  it('shows no link from the reason the server failed to start', async () => {
    // The reason is text fuse-ls did not write: a `command:` link in it ran when clicked.
    await activate({
      before: (s) => {
        s.startError = new Error('bad [Open settings](command:workbench.action.terminal.new)');
      },
    });
    expect(fake.messages[0].text).toContain('bad [Open settings] (command:workbench.action.terminal.new)');
    expect(fake.messages[0].text).not.toContain('](');
  });
});

describe('language client options', () => {
  it('syncs every file, passes the settings and uses the redacting channel', async () => {
    fake.setSetting('fuseLs.mode', 'best-of');
    fake.setSetting('fuseLs.trace.server', 'verbose');
    fake.setSetting('fuseLs.interpreter', PYTHON);
    const { server } = await activate();
    const { spec } = server.last;
    expect(spec.id).toBe('fuseLs');
    expect(spec.launch.command).toBe(PYTHON);
    expect(spec.launch.args).toEqual(['-m', 'fuse_ls', 'serve']);
    expect(spec.clientOptions.documentSelector).toEqual([{ scheme: 'file' }, { scheme: 'untitled' }]);
    expect(spec.clientOptions.initializationOptions).toEqual({ mode: 'best-of', workspaceTrusted: true });
    expect(spec.clientOptions.middleware?.executeCommand).toBeTypeOf('function');
  });

  it('answers workspace/configuration with the same settings, not VS Code\'s whole section', async () => {
    fake.setSetting('fuseLs.quorum.minResponses', 2);
    fake.setSetting('fuseLs.interpreter', PYTHON);
    const { server } = await activate();
    const configuration = server.last.spec.clientOptions.middleware?.workspace?.configuration;
    expect(configuration).toBeTypeOf('function');
    const next = (params: { items: unknown[] }) => params.items.map(() => 'other');
    const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    const answer = await configuration!(
      { items: [{ section: 'fuseLs', scopeUri: 'file:///ws' }, { section: 'editor' }, { section: 'fuseLs.quorum' }] },
      token,
      next as never,
    );
    expect(answer).toEqual([{ quorum: { minResponses: 2 } }, 'other', { minResponses: 2 }]);
  });
});
