import { beforeEach, describe, expect, it } from 'vitest';
import { fake } from './fakes/vscode';
import { activate, resetFakes } from './helpers';

const URI = 'file:///ws/app.py';

beforeEach(resetFakes);

describe('status bar', () => {
  it('shows fusions in flight, per-model state and the session cost from notifications', async () => {
    const { server } = await activate();
    const item = fake.statusItems[0];
    expect(item.text).toBe('$(sparkle) fuse-ls $0.00');
    const client = server.last;
    client.emit('fuse/fusionStatus', { fusionId: 'a', uri: URI, task: 'review', state: 'started', inFlight: 1, sessionCostUsd: 0 });
    client.emit('fuse/modelStatus', { fusionId: 'a', uri: URI, task: 'review', model: 'openai/gpt-5', index: 0, state: 'finished', latencyMs: 1500, costUsd: 0.012 });
    client.emit('fuse/modelStatus', { fusionId: 'a', uri: URI, task: 'review', model: 'google/gemini-2.5-pro', index: 1, state: 'failed', error: 'HTTP 429' });
    client.emit('fuse/fusionStatus', { fusionId: 'b', uri: 'file:///ws/b.py', task: 'explain', state: 'started', inFlight: 2, sessionCostUsd: 0.012 });
    // No spinner: the notification is the one progress display.
    expect(item.text).toBe('$(sparkle) fuse-ls 2 running · $0.01');
    const tooltip = String(item.tooltip);
    expect(tooltip).toContain('2 fusions in flight');
    expect(tooltip).toContain('review (started) app.py: gpt-5 ✓ 1.5s · gemini-2.5-pro ✗');
    expect(tooltip).toContain('gemini-2.5-pro failed: HTTP 429');
    expect(tooltip).toContain('explain (started) b.py');
    client.emit('fuse/fusionStatus', { fusionId: 'a', uri: URI, task: 'review', state: 'finished', inFlight: 1, costUsd: 0.02, sessionCostUsd: 0.02 });
    client.emit('fuse/fusionStatus', { fusionId: 'b', uri: 'file:///ws/b.py', task: 'explain', state: 'cancelled', inFlight: 0, sessionCostUsd: 0.02 });
    expect(item.text).toBe('$(sparkle) fuse-ls $0.02');
    expect(item.command).toBe('fuseLs.showStats');
    expect(String(item.tooltip)).toContain('explain (cancelled)');
  });

  it('starts from zero when the server restarts', async () => {
    const { server, api } = await activate();
    server.last.emit('fuse/fusionStatus', { fusionId: 'a', uri: URI, task: 'review', state: 'started', inFlight: 1, sessionCostUsd: 1.5 });
    await api.manager.restart('test');
    expect(fake.statusItems[0].text).toBe('$(sparkle) fuse-ls $0.00');
    // Notifications from the old client are no longer listened to.
    expect(server.clients[0].handlers.size).toBe(0);
  });

  it('points at the interpreter choice while no server can run', async () => {
    await activate({
      before: (s) => {
        s.versionOutput = { code: 1, stdout: '', stderr: 'No module named fuse_ls' };
        s.bundledOutput = { code: 1, stdout: '', stderr: 'ImportError' };
      },
    });
    const item = fake.statusItems[0];
    expect(item.text).toBe('$(warning) fuse-ls');
    expect(item.command).toBe('fuseLs.selectInterpreter');
    expect(String(item.tooltip)).toContain('did not start');
  });
});
