import { beforeEach, describe, expect, it } from 'vitest';
import { INSTALL_BUTTON } from '../src/server';
import { settle } from './fakes/client';
import { fake } from './fakes/vscode';
import { activate, PYTHON, resetFakes } from './helpers';

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
    expect(error.items).not.toContain(INSTALL_BUTTON);
    expect(fake.statusItems[0].text).toContain('$(error)');
  });

  it('offers to install a missing server and installs it with pip in a task', async () => {
    const { server, api } = await activate({
      before: (s) => {
        fake.answerMessage = (m) => (m.items.includes(INSTALL_BUTTON) ? INSTALL_BUTTON : undefined);
        s.versionOutput = { code: 1, stdout: '', stderr: '/venv/bin/python: No module named fuse_ls\n' };
      },
    });
    const [error] = fake.messages;
    expect(error.text).toContain('not installed');
    expect(error.items).toEqual([INSTALL_BUTTON, 'Open Settings', 'Show Logs']);
    expect(fake.output).toContain('No module named fuse_ls');
    // The click happened; the task runs: let it finish with the server now installed.
    server.versionOutput = { code: 0, stdout: 'fuse-ls 0.1.0\n', stderr: '' };
    await settle(10);
    expect(fake.tasks).toHaveLength(1);
    expect(fake.tasks[0].execution.process).toBe(PYTHON);
    expect(fake.tasks[0].execution.args).toEqual(['-m', 'pip', 'install', '--upgrade', 'fuse-ls']);
    expect(server.clients).toHaveLength(1);
    expect(api.manager.state.kind).toBe('running');
    expect(fake.output).toContain('Installing: /venv/bin/python -m pip install --upgrade fuse-ls');
  });

  it('reports a failed install with a hint about virtual environments', async () => {
    const { api } = await activate({
      before: (s) => {
        s.versionOutput = { code: 1, stdout: '', stderr: 'No module named fuse_ls' };
      },
    });
    fake.taskExitCode = 1;
    expect(await api.manager.install()).toBe(false);
    const last = fake.messages[fake.messages.length - 1];
    expect(last.kind).toBe('error');
    expect(last.text).toContain('externally-managed-environment');
  });

  it('calls an old server too old and offers the upgrade', async () => {
    const { server, api } = await activate({
      before: (s) => {
        s.versionOutput = { code: 0, stdout: 'fuse-ls 0.0.9\n', stderr: '' };
      },
    });
    expect(server.clients).toHaveLength(0);
    expect(api.manager.state.kind).toBe('outdated');
    expect(fake.messages[0].text).toContain('0.0.9');
    expect(fake.messages[0].text).toContain('0.1.0 or newer');
    expect(fake.messages[0].items).toContain(INSTALL_BUTTON);
    expect(fake.statusItems[0].command).toBe('fuseLs.installServer');
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
    expect(spec.clientOptions.initializationOptions).toEqual({ mode: 'best-of' });
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
    expect(answer).toEqual([{ quorum: { min_responses: 2 } }, 'other', { min_responses: 2 }]);
  });
});
