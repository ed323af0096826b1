/**
 * Two fixes (or a fix and a verification) running on one document at once: each
 * request's progress notification is its own; it closes when its own fix arrives, and
 * Cancel stops that request alone.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { FixWaits, selectedLines } from '../src/fixwaits';
import { APPLY, DISCARD, FIX_AGAIN } from '../src/fixpreview';
import { settle } from './fakes/client';
import { FakeTextDocument, fake, Range, Uri } from './fakes/vscode';
import { activate, resetFakes } from './helpers';

const URI = 'file:///ws/app.py';
const SOURCE = 'import json\n\n\ndef load(text):\n    value = eval(text)\n    return value\n';
type Harness = Awaited<ReturnType<typeof activate>>;
type LspRange = { start: { line: number; character: number }; end: { line: number; character: number } };

beforeEach(resetFakes);

interface Pending {
  command: string;
  args: { uri: string; range?: LspRange; findingId?: string; requestKey?: string };
  /** The server is done: it sends the fix to confirm and answers once the user did. */
  finish(fix: { range: LspRange; newText: string; version?: number }): Promise<void>;
}

/**
 * Answers `fuse-ls.fix` and `fuse-ls.verifyFinding` as the real server does, but only when
 * the test says the models (or the checks) are done: the fix goes out as a
 * `workspace/applyEdit` needing confirmation, labelled as fuse_ls/server/fix.py labels it,
 * with the document's version when it was made; the command answers after the user did.
 */
function scriptedServer(harness: Harness, document: FakeTextDocument): Pending[] {
  const pending: Pending[] = [];
  harness.server.responder = (command, args) => {
    if (command !== 'fuse-ls.fix' && command !== 'fuse-ls.verifyFinding') return command === 'fuse-ls.cancel' ? { cancelled: 2 } : undefined;
    return new Promise((resolve) => {
      pending.push({
        command,
        args: args[0] as Pending['args'],
        finish: async (fix) => {
          const verify = command === 'fuse-ls.verifyFinding';
          // The request's key is the annotation id when it sent one, else one of the server's.
          const id = (args[0] as Pending['args']).requestKey ?? 'fuse-ls-0a1b2c3d';
          const edit = {
            label: verify ? 'fuse-ls: verified fix' : 'fuse-ls: fused fix',
            edit: {
              documentChanges: [{ textDocument: { uri: URI, version: fix.version ?? document.version }, edits: [{ range: fix.range, newText: fix.newText, annotationId: id }] }],
              changeAnnotations: { [id]: { label: verify ? 'Fused fix: checks passed (1 command, 0.2 s)' : 'Fused fix', needsConfirmation: true } },
            },
          };
          const answer = (await harness.server.last.serverRequest('workspace/applyEdit', edit)) as { applied: boolean; failureReason?: string };
          const reason = answer.applied ? null : (answer.failureReason ?? null);
          resolve(verify ? { checks: { passed: true, summary: 'checks passed (1 command, 0.2 s)' }, applied: answer.applied, reason } : { fusionId: `f${pending.length}`, applied: answer.applied, cancelled: false, reason });
        },
      });
    });
  };
  return pending;
}

const line = (n: number, from: number, to: number): LspRange => ({ start: { line: n, character: from }, end: { line: n, character: to } });
const lines = (a: number, b: number, endCharacter: number): LspRange => ({ start: { line: a, character: 0 }, end: { line: b, character: endCharacter } });

/** Which notifications are up ("up") or closed ("closed") each time the Apply question shows. */
function recordProgressAtQuestions(answer: (text: string) => string | undefined = () => APPLY): string[][] {
  const seen: string[][] = [];
  fake.answerMessage = (m) => {
    if (!m.items.includes(APPLY)) return undefined;
    seen.push(fake.progress.map((p) => (p.done ? 'closed' : 'up')));
    return answer(m.text);
  };
  return seen;
}

/** Starts a "Fused fix" of `selection`; `done` settles with the command. (An object: an
 * async function returning the promise itself would wait for it.) */
async function start(selection: [number, number, number, number]): Promise<{ done: Promise<unknown> }> {
  fake.setEditor(URI, SOURCE, selection);
  const done = fake.commands.get('fuseLs.fix')!() as Promise<unknown>;
  await settle();
  return { done };
}

describe('two fused fixes on one document', () => {
  it('closes each notification when its own fix arrives: the second first, then the first', async () => {
    const harness = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    const pending = scriptedServer(harness, document);
    const asked = recordProgressAtQuestions();
    const first = (await start([4, 0, 5, 16])).done;
    const second = (await start([0, 0, 0, 11])).done;
    expect(pending.map((p) => p.args.range)).toEqual([lines(4, 5, 16), line(0, 0, 11)]);
    expect(fake.progress.map((p) => p.done)).toEqual([false, false]);

    await pending[1].finish({ range: line(0, 0, 11), newText: 'import ast, json' });
    await second;
    // The second request's notification closed before its question; the first one's stays.
    expect(asked).toEqual([['up', 'closed']]);
    expect(fake.progress[0].done).toBe(false);

    // Applied on a document the first fix was not made for: the server tracks its lines
    // and sends it for the version it has now (as fuse_ls/server/fix.py does).
    await pending[0].finish({ range: lines(4, 5, 16), newText: '    value = ast.literal_eval(text)\n    return value' });
    await first;
    expect(asked).toEqual([['up', 'closed'], ['closed', 'closed']]);
    expect(document.text).toBe('import ast, json\n\n\ndef load(text):\n    value = ast.literal_eval(text)\n    return value\n');
    expect(fake.statusMessages.filter((m) => m === 'fuse-ls: fused fix applied')).toHaveLength(2);
  });

  it('a fix made for a version the other fix replaced moves over that fix, or is refused when it touched its lines', async () => {
    const harness = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    const pending = scriptedServer(harness, document);
    recordProgressAtQuestions();
    const first = (await start([4, 0, 5, 16])).done;
    const second = (await start([0, 0, 0, 11])).done;
    const madeFor = document.version;
    // The server made the first fix before it heard of the second one's edit (a line above).
    await pending[1].finish({ range: line(0, 0, 11), newText: 'import ast\nimport json' });
    await second;
    await pending[0].finish({ range: lines(4, 5, 16), newText: '    return {}', version: madeFor });
    expect(await first).toMatchObject({ applied: true });
    expect(document.text).toBe('import ast\nimport json\n\n\ndef load(text):\n    return {}\n');

    // Made for a version before an edit of its own lines: refused, the text intact.
    const third = (await start([4, 0, 5, 13])).done;
    const made = document.version;
    document.replace(new Range(5, 4, 5, 10), 'return None  #');
    await pending[2].finish({ range: lines(4, 5, 13), newText: '    return []', version: made });
    expect(await third).toMatchObject({ applied: false, reason: 'app.py lines 5-6 changed since the fix was made' });
    expect(document.text).toBe('import ast\nimport json\n\n\ndef load(text):\n    return None  # {}\n');
    expect(fake.messages.at(-1)).toEqual({
      kind: 'warning',
      text: 'fuse-ls: the fused fix was not applied: app.py lines 5-6 changed since the fix was made.',
      items: [FIX_AGAIN],
    });
    expect(fake.progress.map((p) => p.done)).toEqual([true, true, true]);
  });

  it('two fixes of the same lines: a fix closes no notification it cannot tell is its own', async () => {
    const harness = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    const pending = scriptedServer(harness, document);
    const asked = recordProgressAtQuestions(() => DISCARD);
    const first = (await start([4, 0, 5, 16])).done;
    const second = (await start([4, 0, 5, 16])).done;
    await pending[1].finish({ range: lines(4, 5, 16), newText: '    return {}' });
    await second;
    // Either request's fix: neither notification closes early; the second one's closes
    // with its own answer, the first keeps showing.
    expect(asked).toEqual([['up', 'up']]);
    expect(fake.progress.map((p) => p.done)).toEqual([false, true]);
    // Now the only request waiting on these lines: its notification ends before the question.
    await pending[0].finish({ range: lines(4, 5, 16), newText: '    return None' });
    await first;
    expect(asked).toEqual([['up', 'up'], ['closed', 'closed']]);
    expect(document.text).toBe(SOURCE);
  });

  it('Cancel on one notification cancels that request alone, and the other fix still arrives', async () => {
    const harness = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    const pending = scriptedServer(harness, document);
    const asked = recordProgressAtQuestions();
    const first = (await start([4, 0, 5, 16])).done;
    const second = (await start([0, 0, 0, 11])).done;
    fake.progress[0].cancel();
    expect(await first).toBeUndefined();
    const requests = harness.server.last.executeCommands();
    // $/cancelRequest goes out for the cancelled request's id only (the language client
    // sends it when that request's token fires); no fuse-ls.cancel for the whole document.
    expect(requests.map((r) => [r.params.command, r.token?.isCancellationRequested])).toEqual([
      ['fuse-ls.fix', true],
      ['fuse-ls.fix', false],
    ]);
    expect(fake.progress.map((p) => p.done)).toEqual([true, false]);
    expect(fake.statusMessages).toContain('fuse-ls: Fused fix: cancelled');
    await pending[1].finish({ range: line(0, 0, 11), newText: 'import ast, json' });
    expect(await second).toMatchObject({ applied: true });
    expect(asked).toEqual([['closed', 'closed']]);
    expect(document.text).toBe(SOURCE.replace('import json', 'import ast, json'));
  });

  it('each notification lists its own fusion\'s models', async () => {
    const harness = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    scriptedServer(harness, document);
    await start([4, 0, 5, 16]);
    await start([0, 0, 0, 11]);
    const client = harness.server.last;
    for (const fusionId of ['fa', 'fb']) {
      client.emit('fuse/fusionStatus', { fusionId, uri: URI, task: 'fix', state: 'started', inFlight: 2, sessionCostUsd: 0 });
    }
    client.emit('fuse/modelStatus', { fusionId: 'fa', uri: URI, task: 'fix', model: 'openai/gpt-5', index: 0, state: 'finished', latencyMs: 1200 });
    client.emit('fuse/modelStatus', { fusionId: 'fb', uri: URI, task: 'fix', model: 'openai/gpt-5', index: 0, state: 'streaming' });
    expect(fake.progress.map((p) => p.reports.at(-1)?.message)).toEqual(['gpt-5 ✓ 1.2s', 'gpt-5 ⋯']);
  });
});

/** Holds each Apply question until the test answers it: both fixes are up at once. */
function holdQuestions(): { text: string; answer(choice: string | undefined): void }[] {
  const held: { text: string; answer(choice: string | undefined): void }[] = [];
  fake.answerMessage = (m) => {
    if (!m.items.includes(APPLY)) return undefined;
    return new Promise<string | undefined>((resolve) => held.push({ text: m.text, answer: resolve })) as never;
  };
  return held;
}

/**
 * Two fused fixes asked for (`selections`), made for the document as it is now and both
 * shown before either is answered (`fixes`, in the same order).
 */
async function twoQuestionsUp(selections: [number, number, number, number][], fixes: { range: LspRange; newText: string }[]) {
  const harness = await activate();
  const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
  fake.documents.push(document);
  const pending = scriptedServer(harness, document);
  const held = holdQuestions();
  const first = (await start(selections[0])).done;
  const second = (await start(selections[1])).done;
  fixes.forEach((fix, i) => void pending[i].finish(fix));
  await settle();
  return { document, pending, held, first, second };
}

describe('two fixes up for confirmation in one document at once', () => {
  it('applying one, then the other: the second still applies on its own lines, moved', async () => {
    const { document, held, first, second } = await twoQuestionsUp(
      [[0, 0, 0, 11], [4, 0, 5, 16]],
      [
        { range: line(0, 0, 11), newText: 'import ast\nimport json' },
        { range: lines(4, 5, 16), newText: '    value = ast.literal_eval(text)\n    return value' },
      ],
    );
    expect(held.map((q) => q.text)).toEqual(['fuse-ls: Apply the fused fix to app.py:1?', 'fuse-ls: Apply the fused fix to app.py:5?']);
    held[0].answer(APPLY);
    expect(await first).toMatchObject({ applied: true });
    held[1].answer(APPLY);
    expect(await second).toMatchObject({ applied: true });
    expect(document.text).toBe('import ast\nimport json\n\n\ndef load(text):\n    value = ast.literal_eval(text)\n    return value\n');
    expect(fake.messages.filter((m) => m.kind !== 'info' || !m.items.includes(APPLY))).toEqual([]);
    expect(fake.statusMessages.filter((m) => m === 'fuse-ls: fused fix applied')).toHaveLength(2);
  });

  it("the other order, and the user's edit between: each fix lands where its own lines are", async () => {
    const { document, held, first, second } = await twoQuestionsUp(
      [[0, 0, 0, 11], [4, 0, 5, 16]],
      [
        { range: line(0, 0, 11), newText: 'import ast, json' },
        { range: lines(4, 5, 16), newText: '    return {}' },
      ],
    );
    held[1].answer(APPLY);
    expect(await second).toMatchObject({ applied: true });
    document.replace(new Range(3, 0, 3, 0), '# loads\n');
    held[0].answer(APPLY);
    expect(await first).toMatchObject({ applied: true });
    expect(document.text).toBe('import ast, json\n\n\n# loads\ndef load(text):\n    return {}\n');
  });

  it('refuses the second when the first rewrote its lines, and offers to fix them again', async () => {
    const { document, pending, held, first, second } = await twoQuestionsUp(
      [[5, 0, 5, 16], [4, 0, 5, 16]],
      [
        { range: lines(5, 5, 16), newText: '    if value is None:\n        return {}\n    return value' },
        { range: lines(4, 5, 16), newText: '    return json.loads(text)' },
      ],
    );
    held[0].answer(APPLY);
    await first;
    const fixed = document.text;
    const hold = fake.answerMessage;
    fake.answerMessage = (m) => (m.items.includes(FIX_AGAIN) ? FIX_AGAIN : hold(m));
    held[1].answer(APPLY);
    expect(await second).toMatchObject({ applied: false, reason: 'app.py lines 5-8 changed while the fix was shown' });
    expect(document.text).toBe(fixed);
    // Said once, with the button; not again as "no fix was applied".
    expect(fake.messages.filter((m) => !m.items.includes(APPLY))).toEqual([
      { kind: 'warning', text: 'fuse-ls: the fused fix was not applied: app.py lines 5-8 changed while the fix was shown.', items: [FIX_AGAIN] },
    ]);
    // "Fix Again" (clicked): a new fused fix of those lines as they are now, shown selected.
    await settle();
    expect(pending).toHaveLength(3);
    expect(pending[2].args).toEqual({ uri: URI, range: lines(4, 7, 16) });
    expect(fake.shownSelections.at(-1)).toEqual(new Range(4, 0, 7, 16));
    expect(fake.progress.map((p) => p.done)).toEqual([true, true, false]);
  });
});

/** A server that takes a `requestKey` and echoes it (docs/protocol.md). */
const activateKeyed = (): Promise<Harness> =>
  activate({
    before: (server) => {
      server.initializeResult = { capabilities: { experimental: { fuseLs: { requestKey: true } } } };
    },
  });

describe('a server that echoes request keys', () => {
  it('two fixes of the same lines: each closes its own notification at its own fix', async () => {
    const harness = await activateKeyed();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    const pending = scriptedServer(harness, document);
    const asked = recordProgressAtQuestions(() => DISCARD);
    const first = (await start([4, 0, 5, 16])).done;
    const second = (await start([4, 0, 5, 16])).done;
    const keys = pending.map((p) => p.args.requestKey);
    expect(keys.every((k) => typeof k === 'string') && new Set(keys).size === 2).toBe(true);
    await pending[1].finish({ range: lines(4, 5, 16), newText: '    return {}' });
    await second;
    // The second request's fix: its notification closed before the question, the first's is up.
    expect(asked).toEqual([['up', 'closed']]);
    expect(fake.progress.map((p) => p.done)).toEqual([false, true]);
    await pending[0].finish({ range: lines(4, 5, 16), newText: '    return None' });
    await first;
    expect(asked).toEqual([['up', 'closed'], ['closed', 'closed']]);
  });

  it('a fix whose lines moved (the user typed above them) still closes its own notification', async () => {
    const harness = await activateKeyed();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    const pending = scriptedServer(harness, document);
    const asked = recordProgressAtQuestions(() => DISCARD);
    const first = (await start([4, 0, 5, 16])).done;
    const second = (await start([0, 0, 0, 11])).done;
    // The server tracked the first selection two lines down.
    await pending[0].finish({ range: lines(6, 7, 16), newText: '    return {}' });
    await first;
    expect(asked).toEqual([['closed', 'up']]);
    await pending[1].finish({ range: line(0, 0, 11), newText: 'import ast' });
    await second;
    expect(asked).toEqual([['closed', 'up'], ['closed', 'closed']]);
  });

  it('the lightbulb\'s fix and "Verify, then apply" get keys too; an older server gets none', async () => {
    const harness = await activateKeyed();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    const pending = scriptedServer(harness, document);
    const middleware = harness.server.last.spec.clientOptions.middleware!.executeCommand!;
    const next = (command: string, a: unknown[]) => harness.server.responder(command, a);
    void middleware('fuse-ls.fix', [{ uri: URI, range: lines(4, 5, 16) }], next);
    void middleware('fuse-ls.verifyFinding', [{ uri: URI, findingId: 'f1-1', apply: true }], next);
    await settle();
    expect(pending.map((p) => [p.command, typeof p.args.requestKey])).toEqual([
      ['fuse-ls.fix', 'string'],
      ['fuse-ls.verifyFinding', 'string'],
    ]);

    resetFakes();
    const older = await activate();
    const plain = scriptedServer(older, document);
    await start([4, 0, 5, 16]);
    expect(plain[0].args).toEqual({ uri: URI, range: lines(4, 5, 16) });
  });
});

describe('a fused fix and a verification on one document', () => {
  it('the verification\'s fix closes only the "Verify fix" notification, the fused fix\'s only its own', async () => {
    const harness = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    fake.diagnostics.set(URI, [{ range: new Range(4, 4, 4, 22), message: 'eval of input', source: 'fuse-ls', data: { findingId: 'f1-1', fix: { replacement: 'x' } } }]);
    const pending = scriptedServer(harness, document);
    const asked = recordProgressAtQuestions(() => DISCARD);
    const fix = (await start([4, 0, 4, 22])).done;
    fake.setEditor(URI, SOURCE, [4, 0, 4, 0]);
    const verify = fake.commands.get('fuseLs.verifyFix')!() as Promise<unknown>;
    await settle();
    expect(pending.map((p) => p.command)).toEqual(['fuse-ls.fix', 'fuse-ls.verifyFinding']);
    // The same line: the edit's label tells the two apart.
    await pending[1].finish({ range: lines(4, 4, 22), newText: '    value = int(text)' });
    await verify;
    expect(asked).toEqual([['up', 'closed']]);
    await pending[0].finish({ range: lines(4, 4, 22), newText: '    value = json.loads(text)' });
    await fix;
    expect(asked).toEqual([['up', 'closed'], ['closed', 'closed']]);
  });
});

describe('a refused fix, fixed again', () => {
  it('"Fix Again" after a refused "Verify fix" verifies the finding on those lines again, not a fused fix', async () => {
    const harness = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    fake.diagnostics.set(URI, [{ range: new Range(4, 4, 4, 22), message: 'eval of input', source: 'fuse-ls', data: { findingId: 'f1-1', fix: { replacement: 'x' } } }]);
    const pending = scriptedServer(harness, document);
    const held = holdQuestions();
    fake.setEditor(URI, SOURCE, [4, 0, 4, 0]);
    const verify = fake.commands.get('fuseLs.verifyFix')!() as Promise<unknown>;
    await settle();
    void pending[0].finish({ range: lines(4, 4, 22), newText: '    value = int(text)' });
    await settle();
    // The user types into the fix's line while its question is up.
    document.replace(new Range(4, 12, 4, 16), 'evaluate');
    const hold = fake.answerMessage;
    fake.answerMessage = (m) => (m.items.includes(FIX_AGAIN) ? FIX_AGAIN : hold(m));
    held[0].answer(APPLY);
    expect(await verify).toMatchObject({ applied: false, reason: 'app.py line 5 changed while the fix was shown' });
    expect(fake.messages.filter((m) => !m.items.includes(APPLY))).toEqual([
      { kind: 'warning', text: 'fuse-ls: the verified fix was not applied: app.py line 5 changed while the fix was shown.', items: [FIX_AGAIN] },
    ]);
    await settle();
    expect(pending.map((p) => [p.command, p.args.findingId])).toEqual([
      ['fuse-ls.verifyFinding', 'f1-1'],
      ['fuse-ls.verifyFinding', 'f1-1'],
    ]);
    expect(fake.shownSelections.at(-1)).toEqual(new Range(4, 0, 4, 26));
  });
});

describe('FixWaits', () => {
  it('reads the lines the server rewrites from a selection', () => {
    expect(selectedLines(lines(3, 5, 0))).toEqual({ start: 3, end: 4 });
    expect(selectedLines(lines(3, 3, 0))).toEqual({ start: 3, end: 3 });
    expect(selectedLines(lines(3, 5, 2))).toEqual({ start: 3, end: 5 });
  });

  it('ends the one request a fix fits, and none of another document or kind', async () => {
    const waits = new FixWaits();
    const whole = waits.wait({ uri: URI, kind: 'fix', lines: 'whole' });
    const verify = waits.wait({ uri: URI, kind: 'verify', lines: { start: 2, end: 2 } });
    const other = waits.wait({ uri: 'file:///ws/b.py', kind: 'fix', lines: 'whole' });
    const ended: string[] = [];
    void whole.arrived.then(() => ended.push('whole'));
    void verify.arrived.then(() => ended.push('verify'));
    void other.arrived.then(() => ended.push('other'));
    whole.closed();
    verify.closed();
    await waits.arrived({ uri: URI, kind: 'fix', lines: { start: 0, end: 9 } });
    await waits.arrived({ uri: 'file:///ws/c.py', kind: 'fix', lines: { start: 0, end: 9 } });
    await settle();
    expect(ended).toEqual(['whole']);
    // An ended request is nobody's candidate any more.
    await waits.arrived({ uri: URI, kind: 'verify', lines: { start: 7, end: 7 } });
    await settle();
    expect(ended).toEqual(['whole', 'verify']);
    for (const w of [whole, verify, other]) w.release();
    expect(waits.size).toBe(0);
  });

  it('a key picks its request; a request sent with a key is never guessed at', async () => {
    const waits = new FixWaits();
    const keyed = waits.wait({ uri: URI, kind: 'fix', lines: { start: 4, end: 5 }, requestKey: 'k1' });
    const older = waits.wait({ uri: URI, kind: 'fix', lines: { start: 4, end: 5 } });
    const ended: string[] = [];
    void keyed.arrived.then(() => ended.push('keyed'));
    void older.arrived.then(() => ended.push('older'));
    keyed.closed();
    older.closed();
    // The server's own annotation id (no key sent): the lines say it is the unkeyed one's.
    await waits.arrived({ uri: URI, kind: 'fix', lines: { start: 4, end: 5 }, requestKey: 'fuse-ls-0a1b2c3d' });
    await settle();
    expect(ended).toEqual(['older']);
    // Its key, even on other lines and without a label.
    await waits.arrived({ uri: URI, lines: { start: 9, end: 9 }, requestKey: 'k1' });
    await settle();
    expect(ended).toEqual(['older', 'keyed']);
  });
});
