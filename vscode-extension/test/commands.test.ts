import { beforeEach, describe, expect, it } from 'vitest';
import { APPLY } from '../src/fixpreview';
import { settle } from './fakes/client';
import { FakeTextDocument, fake, Range, Uri } from './fakes/vscode';
import { activate, resetFakes } from './helpers';

const URI = 'file:///ws/app.py';
const SOURCE = 'import json\n\n\ndef load(text):\n    value = eval(text)\n    return value\n';

beforeEach(resetFakes);

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('review / explain / fix', () => {
  it.each([
    ['fuseLs.review', 'fuse-ls.review'],
    ['fuseLs.explain', 'fuse-ls.explain'],
    ['fuseLs.fix', 'fuse-ls.fix'],
  ])('%s sends workspace/executeCommand %s with the selection', async (command, serverCommand) => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [3, 0, 5, 16]);
    await fake.commands.get(command)!();
    const [request] = server.last.executeCommands();
    expect(request.params).toEqual({
      command: serverCommand,
      arguments: [{ uri: URI, range: { start: { line: 3, character: 0 }, end: { line: 5, character: 16 } } }],
    });
    expect(request.token).toBeDefined();
    expect(fake.progress[0].options).toMatchObject({ location: 15, cancellable: true });
  });

  it('sends no range for an empty selection: the whole document', async () => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [4, 2, 4, 2]);
    await fake.commands.get('fuseLs.review')!();
    expect(server.last.executeCommands()[0].params.arguments).toEqual([{ uri: URI }]);
  });

  it('asks for an editor when none is active', async () => {
    const { server } = await activate();
    await fake.commands.get('fuseLs.review')!();
    expect(server.last.requests).toEqual([]);
    expect(fake.messages[0]).toMatchObject({ kind: 'warning' });
  });

  it('says the server is not running instead of sending', async () => {
    const { server } = await activate({
      before: (s) => {
        s.versionOutput = { code: 1, stdout: '', stderr: 'No module named fuse_ls' };
        s.bundledOutput = { code: 1, stdout: '', stderr: 'ImportError' };
      },
    });
    fake.messages = [];
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.review')!();
    expect(server.clients).toHaveLength(0);
    expect(fake.messages[0].text).toContain('not running');
  });

  it('lists per-model progress from fuse/modelStatus in the notification', async () => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    const answer = deferred<unknown>();
    server.responder = () => answer.promise;
    const running = fake.commands.get('fuseLs.review')!() as Promise<unknown>;
    await settle();
    const client = server.last;
    client.emit('fuse/fusionStatus', { fusionId: 'f9', uri: URI, task: 'review', state: 'started', inFlight: 1, sessionCostUsd: 0 });
    client.emit('fuse/modelStatus', { fusionId: 'f9', uri: URI, task: 'review', model: 'openai/gpt-5', index: 1, state: 'streaming' });
    client.emit('fuse/modelStatus', { fusionId: 'f9', uri: URI, task: 'review', model: 'anthropic/claude-sonnet-4.5', index: 0, state: 'finished', latencyMs: 2100 });
    client.emit('fuse/modelStatus', { fusionId: 'f9', uri: URI, task: 'review', model: 'google/gemini-2.5-pro', index: 2, state: 'failed', error: '429' });
    const progress = fake.progress[0];
    expect(progress.reports.at(-1)?.message).toBe('claude-sonnet-4.5 ✓ 2.1s · gpt-5 ⋯ · gemini-2.5-pro ✗');
    client.emit('fuse/fusionStatus', { fusionId: 'f9', uri: URI, task: 'review', state: 'judging', inFlight: 1, sessionCostUsd: 0.01 });
    expect(progress.reports.at(-1)?.message).toContain('judging');
    answer.resolve({ fusionId: 'f9', findings: [{}, {}], cancelled: false });
    await running;
    expect(progress.done).toBe(true);
    expect(fake.messages.at(-1)?.text).toContain('found 2 issues');
  });

  it('ignores the progress of other documents', async () => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    const answer = deferred<unknown>();
    server.responder = () => answer.promise;
    const running = fake.commands.get('fuseLs.review')!() as Promise<unknown>;
    await settle();
    server.last.emit('fuse/modelStatus', { fusionId: 'other', uri: 'file:///ws/b.py', task: 'review', model: 'a/x', index: 0, state: 'streaming' });
    expect(fake.progress[0].reports.map((r) => r.message)).toEqual(['asking the pool…']);
    answer.resolve({ cancelled: true });
    await running;
  });

  it('cancelling the notification cancels its request ($/cancelRequest), not every fusion of the document', async () => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    const never = deferred<unknown>();
    server.responder = (command) => (command === 'fuse-ls.cancel' ? { cancelled: 1 } : never.promise);
    const running = fake.commands.get('fuseLs.explain')!() as Promise<unknown>;
    await settle();
    fake.progress[0].cancel();
    expect(await running).toBeUndefined();
    const requests = server.last.executeCommands();
    expect(requests[0].token?.isCancellationRequested).toBe(true);
    // fuse-ls.cancel {uri} would stop another request's fusion of the same document too.
    expect(requests.map((r) => r.params.command)).toEqual(['fuse-ls.explain']);
    expect(fake.statusMessages.at(-1)).toContain('cancelled');
    expect(fake.messages.filter((m) => m.kind === 'error')).toEqual([]);
  });

  it('shows a failed request as an error with the logs', async () => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    server.responder = () => Promise.reject(new Error('Unknown document'));
    await fake.commands.get('fuseLs.fix')!();
    expect(fake.messages[0]).toMatchObject({ kind: 'error', items: ['Show Logs'] });
    expect(fake.messages[0].text).toContain('Unknown document');
  });

  it('opens the explanation document in a Markdown preview', async () => {
    await activate();
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.explain')!();
    const preview = fake.executed.find((e) => e.command === 'markdown.showPreviewToSide');
    expect((preview?.args[0] as Uri).toString()).toBe('file:///tmp/explain.md');
    expect(fake.openedDocuments).toEqual([]);
  });

  it('falls back to an untitled Markdown document when the file is not there', async () => {
    await activate();
    fake.statFails = true;
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.explain')!();
    expect(fake.openedDocuments).toEqual([{ language: 'markdown', content: '# Explanation' }]);
    const preview = fake.executed.find((e) => e.command === 'markdown.showPreviewToSide');
    expect((preview?.args[0] as Uri).toString()).toBe('untitled:Untitled-1');
  });

  it('shows the server\'s explanation document as a Markdown preview, once', async () => {
    const { server } = await activate();
    const showDocument = server.last.spec.clientOptions.middleware!.window!.showDocument!;
    const passed: string[] = [];
    const next = (params: { uri: string }) => {
      passed.push(params.uri);
      return Promise.resolve({ success: true });
    };
    server.responder = async () => {
      // As the real server does: window/showDocument before answering the command.
      await showDocument({ uri: 'file:///data/explain/app.md', takeFocus: true }, next);
      return { fusionId: 'e', markdown: '# E', documentUri: 'file:///data/explain/app.md', cancelled: false };
    };
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.explain')!();
    const previews = fake.executed.filter((e) => e.command === 'markdown.showPreviewToSide');
    expect(previews.map((p) => (p.args[0] as Uri).toString())).toEqual(['file:///data/explain/app.md']);
    expect(passed).toEqual([]);
    // Other documents open as usual.
    expect(await showDocument({ uri: 'file:///ws/app.py' }, next)).toEqual({ success: true });
    expect(passed).toEqual(['file:///ws/app.py']);
  });

  it('reports a fix that was not applied', async () => {
    const { server } = await activate();
    server.responder = () => ({ fusionId: 'f', applied: false, cancelled: false, reason: 'no fix proposed' });
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.fix')!();
    expect(fake.messages[0].text).toBe('fuse-ls: no fix was applied (no fix proposed).');
  });

  it.each(['palette', 'code action'])('ends the "Fused fix" progress once the fix has arrived, before asking whether to apply (%s)', async (path) => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [4, 0, 4, 0]);
    fake.documents.push(new FakeTextDocument(Uri.parse(URI), SOURCE));
    const progressUpWhenAsked: boolean[] = [];
    fake.answerMessage = (m) => {
      if (!m.items.includes(APPLY)) return undefined;
      progressUpWhenAsked.push(...fake.progress.map((p) => !p.done));
      return APPLY;
    };
    // As the real server does: the fusion ends, the fix is sent for the user to confirm,
    // and the command answers once the user did.
    server.responder = async () => {
      const edit = {
        label: 'fuse-ls: fused fix',
        edit: {
          documentChanges: [{ textDocument: { uri: URI, version: 1 }, edits: [{ range: { start: { line: 4, character: 0 }, end: { line: 4, character: 22 } }, newText: '    value = int(text)', annotationId: 'a1' }] }],
          changeAnnotations: { a1: { label: 'Fused fix', needsConfirmation: true, description: 'Rewrite fused from 3 models.' } },
        },
      };
      const answer = (await server.last.serverRequest('workspace/applyEdit', edit)) as { applied: boolean };
      return { fusionId: 'f', applied: answer.applied, cancelled: false, reason: null };
    };
    if (path === 'palette') {
      await fake.commands.get('fuseLs.fix')!();
    } else {
      const middleware = server.last.spec.clientOptions.middleware!.executeCommand!;
      await middleware('fuse-ls.fix', [{ uri: URI }], (command: string, a: unknown[]) => server.responder(command, a));
    }
    // The models are done once the question is up: no "Fused fix" notification beside it.
    expect(progressUpWhenAsked).toEqual([false]);
    expect(fake.appliedEdits).toHaveLength(1);
    expect(fake.statusMessages.at(-1)).toBe('fuse-ls: fused fix applied');
  });

  it('stays quiet about a fusion the server reports as failed (it showed the error itself)', async () => {
    const { server } = await activate();
    server.responder = () => ({ fusionId: 'f', cancelled: false, error: 'budget exceeded: $0.80 > $0.50' });
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.review')!();
    expect(fake.messages).toEqual([]);
    expect(fake.output).toContain('budget exceeded');
  });

  it('routes the server\'s own code-action commands through the same progress UI', async () => {
    const { server } = await activate();
    const middleware = server.last.spec.clientOptions.middleware!.executeCommand!;
    server.responder = () => ({ fusionId: 'x', findings: [], cancelled: false });
    // Sent with the notification's token (not through `next`, which takes none), so Cancel
    // reaches this request.
    const result = await middleware('fuse-ls.review', [{ uri: URI }], () => {
      throw new Error('sent without a token');
    });
    const [sent] = server.last.executeCommands();
    expect(sent.params).toEqual({ command: 'fuse-ls.review', arguments: [{ uri: URI }] });
    expect(sent.token).toBeDefined();
    expect(result).toEqual({ fusionId: 'x', findings: [], cancelled: false });
    expect(fake.progress).toHaveLength(1);
    expect(fake.messages[0].text).toContain('found nothing');
    // Other commands pass straight through.
    await middleware('fuse-ls.findingDecision', [{ uri: URI }], (command) => command);
    expect(fake.progress).toHaveLength(1);
  });
});

describe('cancel and stats', () => {
  it('cancels the active document\'s fusions, else all', async () => {
    const { server } = await activate();
    await fake.commands.get('fuseLs.cancel')!();
    expect(server.last.executeCommands()[0].params).toEqual({ command: 'fuse-ls.cancel', arguments: [{}] });
    fake.setEditor(URI, SOURCE, [0, 0, 0, 0]);
    server.last.emit('fuse/fusionStatus', { fusionId: 'f1', uri: URI, task: 'review', state: 'started', inFlight: 1, sessionCostUsd: 0 });
    await fake.commands.get('fuseLs.cancel')!();
    expect(server.last.executeCommands()[1].params).toEqual({ command: 'fuse-ls.cancel', arguments: [{ uri: URI }] });
    expect(fake.statusMessages.at(-1)).toBe('fuse-ls: cancelled 1 fusion');
  });

  it('shows usage and cost per model in a quick pick', async () => {
    const { server } = await activate();
    server.responder = (command) =>
      command === 'fuse-ls.stats'
        ? {
            fusions: 3,
            costUsd: 0.0421,
            models: {
              'openai/gpt-5': { calls: 3, failures: 1, costUsd: 0.03, promptTokens: 1200, completionTokens: 300, meanLatencyMs: 2500 },
              'a/cheap': { calls: 3, failures: 0, costUsd: 0.0005, promptTokens: 1000, completionTokens: 200, meanLatencyMs: 800 },
            },
          }
        : undefined;
    await fake.commands.get('fuseLs.showStats')!();
    expect(server.last.executeCommands()[0].params).toEqual({ command: 'fuse-ls.stats', arguments: [{}] });
    const [pick] = fake.quickPicks;
    const items = pick.items as { label: string; description?: string; detail?: string }[];
    expect(items[0].label).toContain('3 fusions · $0.04');
    expect(items[1]).toMatchObject({ label: 'openai/gpt-5', description: '$0.03 · 3 calls · 1 failed' });
    expect(items[1].detail).toBe('1200 prompt + 300 completion tokens · mean 2.5s');
    expect(items[2].description).toBe('$0.0005 · 3 calls');
  });

  it('opens the logs', async () => {
    await activate();
    await fake.commands.get('fuseLs.showLogs')!();
    expect(fake.outputChannels[0].shown).toBe(true);
  });
});

describe('verify a finding\'s fix', () => {
  const finding = (findingId: string, line: number, message: string, fix: unknown = { replacement: 'x' }) => ({
    range: new Range(line, 0, line, 10),
    message,
    source: 'fuse-ls',
    data: { findingId, fix },
  });

  it('"Verify fix" sends fuse-ls.verifyFinding with apply for the finding under the cursor', async () => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [4, 3, 4, 3]);
    fake.diagnostics.set(URI, [finding('f1-0', 1, 'unused import'), finding('f1-1', 4, 'eval of input'), finding('f1-2', 4, 'no fix', null)]);
    server.responder = () => ({ uri: URI, findingId: 'f1-1', checks: { passed: true, summary: 'checks passed (1 command, 0.4 s)' }, applied: true, reason: null });
    await fake.commands.get('fuseLs.verifyFix')!();
    expect(server.last.executeCommands()[0].params).toEqual({
      command: 'fuse-ls.verifyFinding',
      arguments: [{ uri: URI, findingId: 'f1-1', apply: true }],
    });
    expect(fake.progress[0].reports[0].message).toContain("running the project's checks");
    expect(fake.statusMessages.at(-1)).toBe('fuse-ls: fix applied (checks passed (1 command, 0.4 s))');
  });

  it('says why a fix that failed its checks was not applied, and logs the failing lines', async () => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [4, 0, 4, 0]);
    fake.diagnostics.set(URI, [finding('f1-1', 4, 'eval of input')]);
    server.responder = () => ({
      checks: { passed: false, summary: 'checks failed: `pytest` exited 1 (1 command, 2.0 s)', failingLines: 'E   assert 6 == 5' },
      applied: false,
      reason: 'The fix was not applied: checks failed: `pytest` exited 1 (1 command, 2.0 s)',
    });
    await fake.commands.get('fuseLs.verifyFix')!();
    expect(fake.messages.at(-1)).toMatchObject({ kind: 'warning' });
    expect(fake.messages.at(-1)?.text).toContain('the fix was not applied: The fix was not applied: checks failed');
    expect(fake.output).toContain('E   assert 6 == 5');
  });

  it('asks which fix when several findings on the line have one, and says when none has', async () => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [4, 0, 4, 0]);
    fake.diagnostics.set(URI, [finding('a', 4, 'first'), finding('b', 4, 'second')]);
    fake.pickAnswer = (items) => items[1];
    server.responder = () => ({ checks: { passed: true, summary: 'checks passed' }, applied: false, reason: 'discarded' });
    await fake.commands.get('fuseLs.verifyFix')!();
    expect(fake.quickPicks[0].items.map((i) => i.label)).toEqual(['first', 'second']);
    expect(server.last.executeCommands()[0].params.arguments).toEqual([{ uri: URI, findingId: 'b', apply: true }]);
    expect(fake.statusMessages.at(-1)).toBe('fuse-ls: fix discarded');
    fake.setEditor(URI, SOURCE, [2, 0, 2, 0]);
    await fake.commands.get('fuseLs.verifyFix')!();
    expect(fake.messages.at(-1)?.text).toBe('fuse-ls: no fuse-ls finding with a fix on this line.');
    expect(server.last.executeCommands()).toHaveLength(1);
  });

  /** The server's `fuse-ls.verifyFinding` with apply: the checks ran, then the fix is sent
   * for the user to confirm, and the command answers once the user did. */
  function checksThenAsk(server: Awaited<ReturnType<typeof activate>>['server']) {
    return async () => {
      const edit = {
        label: 'fuse-ls: verified fix',
        edit: {
          documentChanges: [{ textDocument: { uri: URI, version: 1 }, edits: [{ range: { start: { line: 4, character: 0 }, end: { line: 4, character: 21 } }, newText: '    value = int(text)', annotationId: 'a1' }] }],
          changeAnnotations: { a1: { label: 'Fused fix: checks passed (1 command, 0.4 s)', needsConfirmation: true } },
        },
      };
      const answer = (await server.last.serverRequest('workspace/applyEdit', edit)) as { applied: boolean };
      return { checks: { passed: true, summary: 'checks passed (1 command, 0.4 s)' }, applied: answer.applied };
    };
  }

  it.each(['palette', 'code action'])('ends the "Verify fix" progress before asking whether to apply (%s)', async (path) => {
    const { server } = await activate();
    fake.setEditor(URI, SOURCE, [4, 0, 4, 0]);
    fake.documents.push(new FakeTextDocument(Uri.parse(URI), SOURCE));
    fake.diagnostics.set(URI, [finding('f1-1', 4, 'eval of input')]);
    const progressUpWhenAsked: boolean[] = [];
    fake.answerMessage = (m) => {
      if (!m.items.includes(APPLY)) return undefined;
      progressUpWhenAsked.push(...fake.progress.map((p) => !p.done));
      return APPLY;
    };
    server.responder = checksThenAsk(server);
    if (path === 'palette') {
      await fake.commands.get('fuseLs.verifyFix')!();
    } else {
      const middleware = server.last.spec.clientOptions.middleware!.executeCommand!;
      const args = [{ uri: URI, findingId: 'f1-1', apply: true }];
      await middleware('fuse-ls.verifyFinding', args, (command: string, a: unknown[]) => server.responder(command, a));
    }
    // The checks are over once the question is up: no "Verify fix" notification beside it.
    expect(progressUpWhenAsked).toEqual([false]);
    expect(fake.messages.find((m) => m.items.includes(APPLY))?.text).toContain('(checks passed (1 command, 0.4 s))');
    expect(fake.appliedEdits).toHaveLength(1);
    expect(fake.statusMessages.at(-1)).toBe('fuse-ls: fix applied (checks passed (1 command, 0.4 s))');
  });

  it('gives the server\'s "Verify, then apply" code action a progress notification and the result', async () => {
    const { server } = await activate();
    const middleware = server.last.spec.clientOptions.middleware!.executeCommand!;
    const args = [{ uri: URI, findingId: 'f1-1', apply: true }];
    const result = await middleware('fuse-ls.verifyFinding', args, () => ({ checks: { passed: true, summary: 'checks passed (1 command, 0.1 s)' }, applied: true }));
    expect(result).toMatchObject({ applied: true });
    expect(fake.progress).toHaveLength(1);
    expect(fake.statusMessages.at(-1)).toContain('fix applied (checks passed');
  });
});
