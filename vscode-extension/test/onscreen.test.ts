/** What the user sees of fixes, cancels, server messages and findings (issue 13). */
import { beforeEach, describe, expect, it } from 'vitest';
import { ownProgressFeature } from '../src/capabilities';
import { uniqueDiagnostics } from '../src/diagnostics';
import { APPLY, DISCARD, FIX_AGAIN, PROPOSED_SCHEME } from '../src/fixpreview';
import { inertLinks, notice } from '../src/messages';
import { settle } from './fakes/client';
import { FakeTextDocument, fake, Range, type TabInputTextDiff, Uri } from './fakes/vscode';
import { activate, resetFakes } from './helpers';

const URI = 'file:///ws/app.py';
const SOURCE = 'import json\n\n\ndef load(text):\n    value = eval(text)\n    return value\n';

beforeEach(resetFakes);

/** The server's `workspace/applyEdit` for a fused fix of line 5 (0-based 4). */
function fixEdit(version: number, confirm = true, label = 'Fused fix', description = 'Rewrite fused from 3 models.') {
  return {
    label: 'fuse-ls: fused fix',
    edit: {
      documentChanges: [
        {
          textDocument: { uri: URI, version },
          edits: [
            {
              range: { start: { line: 4, character: 0 }, end: { line: 5, character: 16 } },
              newText: '    value = json.loads(text)\n    return value or {}',
              ...(confirm ? { annotationId: 'a1' } : {}),
            },
          ],
        },
      ],
      ...(confirm ? { changeAnnotations: { a1: { label, needsConfirmation: true, description } } } : {}),
    },
  };
}

describe('fused fix: the extension\'s own diff, applied on one click', () => {
  it('shows the fix as a diff and applies exactly it when the user clicks Apply', async () => {
    const { server } = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    let diffText = '';
    fake.answerMessage = (m) => {
      // While the question is up, the diff shows the fixed file.
      const diff = fake.executed.find((e) => e.command === 'vscode.diff');
      diffText = fake.contentProviders.get(PROPOSED_SCHEME)!.provideTextDocumentContent(diff!.args[1] as Uri);
      return m.items.includes(APPLY) ? APPLY : undefined;
    };
    const answer = await server.last.serverRequest('workspace/applyEdit', fixEdit(1));
    expect(answer).toEqual({ applied: true });
    const question = fake.messages.find((m) => m.text.includes('Apply the fused fix'))!;
    expect(question.text).toBe('fuse-ls: Apply the fused fix to app.py:5? Rewrite fused from 3 models.');
    expect(question.items).toEqual([APPLY, DISCARD]);
    expect(diffText).toContain('value = json.loads(text)\n    return value or {}');
    expect(diffText).not.toContain('eval');
    expect(document.text).toBe(diffText);
    expect(fake.appliedEdits).toHaveLength(1);
    // The diff is closed again and the file is in front.
    expect(fake.closedTabs.map((t) => (t.input as TabInputTextDiff).modified.scheme)).toEqual([PROPOSED_SCHEME]);
    expect(fake.shownDocuments.map(String)).toEqual([URI]);
  });

  it('says how the checks went: passed in the question, failed as "apply anyway?" with the failing lines', async () => {
    const { server } = await activate();
    fake.documents.push(new FakeTextDocument(Uri.parse(URI), SOURCE));
    fake.answerMessage = () => undefined;
    await server.last.serverRequest('workspace/applyEdit', fixEdit(1, true, 'Fused fix: checks passed (3 commands, 8.2 s)'));
    await server.last.serverRequest(
      'workspace/applyEdit',
      fixEdit(1, true, 'Fused fix (apply anyway?): checks failed: `pytest -q` exited 1 (1 command, 0.4 s)', 'E   assert 6 == 5'),
    );
    const texts = fake.messages.map((m) => m.text);
    expect(texts).toContain('fuse-ls: Apply the fused fix to app.py:5? (checks passed (3 commands, 8.2 s)) Rewrite fused from 3 models.');
    expect(texts).toContain('fuse-ls: The fused fix FAILED its checks. Apply it to app.py:5 anyway? E   assert 6 == 5');
    expect(fake.appliedEdits).toHaveLength(0);
  });

  it('applies nothing when the user discards or dismisses it, and says so quietly', async () => {
    const { server } = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    fake.answerMessage = (m) => (m.items.includes(DISCARD) ? DISCARD : undefined);
    expect(await server.last.serverRequest('workspace/applyEdit', fixEdit(1))).toEqual({ applied: false, failureReason: 'discarded' });
    fake.answerMessage = () => undefined;
    expect(await server.last.serverRequest('workspace/applyEdit', fixEdit(1))).toEqual({ applied: false, failureReason: 'discarded' });
    expect(document.text).toBe(SOURCE);
    expect(fake.appliedEdits).toHaveLength(0);
  });

  it('refuses a fix for a file that changed before or while it was shown', async () => {
    const { server } = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    // Made for version 1; its line was typed into since (version 2).
    document.replace(new Range(4, 4, 4, 9), 'parsed');
    const stale = await server.last.serverRequest('workspace/applyEdit', fixEdit(1));
    expect(stale).toEqual({ applied: false, failureReason: 'app.py lines 5-6 changed since the fix was made' });
    expect(fake.messages.at(-1)?.items).toEqual([FIX_AGAIN]);
    // A version whose edits are not all known (made before the extension started): refused.
    document.version += 5;
    expect(await server.last.serverRequest('workspace/applyEdit', fixEdit(2))).toEqual({ applied: false, failureReason: 'app.py changed since the fix was made' });
    document.text = SOURCE;
    document.version = 2;
    // Typed into its own lines while the question was up: refused, with a way to fix again.
    fake.answerMessage = (m) => {
      if (m.items.includes(APPLY)) {
        document.replace(new Range(4, 4, 4, 9), 'result');
        return APPLY;
      }
      return undefined;
    };
    const during = await server.last.serverRequest('workspace/applyEdit', fixEdit(2));
    expect(during).toEqual({ applied: false, failureReason: 'app.py lines 5-6 changed while the fix was shown' });
    expect(document.text).toBe(SOURCE.replace('    value =', '    result ='));
    expect(fake.messages.at(-1)).toEqual({
      kind: 'warning',
      text: 'fuse-ls: the fused fix was not applied: app.py lines 5-6 changed while the fix was shown.',
      items: [FIX_AGAIN],
    });
    expect(fake.appliedEdits).toHaveLength(0);
  });

  it('applies a fix where its lines went when the file changed elsewhere before or while it was shown', async () => {
    const { server } = await activate();
    const document = new FakeTextDocument(Uri.parse(URI), SOURCE);
    fake.documents.push(document);
    let diffText = '';
    fake.answerMessage = (m) => {
      if (!m.items.includes(APPLY)) return undefined;
      const diff = fake.executed.find((e) => e.command === 'vscode.diff');
      diffText = fake.contentProviders.get(PROPOSED_SCHEME)!.provideTextDocumentContent(diff!.args[1] as Uri);
      document.replace(new Range(7, 0, 7, 0), '# typed below\n');
      return APPLY;
    };
    // Arrives, and a line is typed above before the question shows.
    const answer = server.last.serverRequest('workspace/applyEdit', fixEdit(1));
    document.replace(new Range(0, 0, 0, 0), '# typed above\n');
    expect(await answer).toEqual({ applied: true });
    expect(fake.messages.map((m) => m.text)).toEqual(['fuse-ls: Apply the fused fix to app.py:6? Rewrite fused from 3 models.']);
    expect(diffText).toBe('# typed above\nimport json\n\n\ndef load(text):\n    value = json.loads(text)\n    return value or {}\n');
    expect(document.text).toBe(diffText + '# typed below\n');
  });

  it('applies an edit that needs no confirmation directly', async () => {
    const { server } = await activate();
    fake.documents.push(new FakeTextDocument(Uri.parse(URI), SOURCE));
    expect(await server.last.serverRequest('workspace/applyEdit', fixEdit(1, false))).toEqual({ applied: true });
    expect(fake.messages).toEqual([]);
    expect(fake.executed.filter((e) => e.command === 'vscode.diff')).toEqual([]);
  });

  it('says "discarded" in the status bar, not as a no-fix-applied message', async () => {
    const { server } = await activate();
    server.responder = () => ({ fusionId: 'f', applied: false, cancelled: false, reason: 'discarded' });
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.fix')!();
    expect(fake.messages).toEqual([]);
    expect(fake.statusMessages.at(-1)).toBe('fuse-ls: fused fix discarded');
  });
});

describe('Cancel fusion from the palette', () => {
  it('counts a fusion this window was waiting for', async () => {
    const { server } = await activate();
    let reviewToken: { isCancellationRequested: boolean } | undefined;
    // Like the server: a request the client cancelled first is gone before fuse-ls.cancel
    // can count it.
    server.responder = (command, _args, token) => {
      if (command === 'fuse-ls.review') {
        reviewToken = token;
        return new Promise(() => undefined);
      }
      if (command === 'fuse-ls.cancel') return { cancelled: reviewToken?.isCancellationRequested ? 0 : 1 };
      return undefined;
    };
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    const review = fake.commands.get('fuseLs.review')!();
    await settle();
    server.last.emit('fuse/fusionStatus', { fusionId: 'r1', uri: URI, task: 'review', state: 'started', inFlight: 1, sessionCostUsd: 0 });
    expect(await fake.commands.get('fuseLs.cancel')!()).toBe(1);
    expect(fake.statusMessages).toContain('fuse-ls: cancelled 1 fusion');
    await review;
    expect(reviewToken?.isCancellationRequested).toBe(true);
  });
});

describe('server messages', () => {
  const allFailed =
    'fuse-ls: Every model in the pool failed:\n- anthropic/claude-sonnet-4.5: HTTP 401 (no key)\n- openai/gpt-5: timed out after 60s\nRun `fuse-ls doctor` to check the key, the endpoint and the model ids.';

  it('turns the all-models-failed error into one readable line with Show Logs, the details in the log', async () => {
    const { server } = await activate();
    server.last.emit('window/showMessage', { type: 1, message: allFailed });
    await settle();
    const [error] = fake.messages;
    expect(error.kind).toBe('error');
    expect(error.text).toBe(
      'fuse-ls: Every model in the pool failed (claude-sonnet-4.5, gpt-5): the reasons are in the log. Run `fuse-ls doctor` to check the key, the endpoint and the model ids.',
    );
    expect(error.items).toEqual(['Show Logs']);
    expect(fake.output).toContain('- openai/gpt-5: timed out after 60s');
  });

  it('shows no clickable link from server text: a command link in a repository file name or check output stays text', async () => {
    // VS Code renders [label](command:...) in a notification as a link that runs the command.
    const { server } = await activate();
    const hostile = 'fuse-ls: cannot read [Show details](command:workbench.action.terminal.new) in the change';
    server.last.emit('window/showMessage', { type: 1, message: hostile });
    server.last.emit('window/showMessage', { type: 3, message: 'see [docs](https://evil.example/?q=code)' });
    await settle();
    expect(fake.messages.map((m) => m.text)).toEqual([
      'fuse-ls: cannot read [Show details] (command:workbench.action.terminal.new) in the change',
      'see [docs] (https://evil.example/?q=code)',
    ]);
    expect(inertLinks('[a](b) and [c]\n(d) [e](f "t")')).toBe('[a] (b) and [c]\n(d) [e] (f "t")');
  });

  it('leaves a one-line message as it is', () => {
    expect(notice('fuse-ls: 1 of 3 models failed.')).toEqual({ headline: 'fuse-ls: 1 of 3 models failed.', detailed: false });
  });

  it('shows a degraded result (the judge failed) as a warning with the reason', async () => {
    const { server } = await activate();
    server.responder = () => ({ fusionId: 'f', findings: [{}], cancelled: false, notes: ['judge failed (HTTP 500); fell back to a vote-based result', 'secret-looking text was redacted in 1 part(s) before sending'] });
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.review')!();
    const warning = fake.messages.find((m) => m.kind === 'warning')!;
    expect(warning.text).toBe('fuse-ls: Fused review is degraded: judge failed (HTTP 500); fell back to a vote-based result.');
    expect(warning.items).toEqual(['Show Logs']);
  });
});

describe('degraded by the judge field alone', () => {
  it('warns when judge.status is "error" even without a note', async () => {
    const { server } = await activate();
    server.responder = () => ({ fusionId: 'f', markdown: '# E', cancelled: false, notes: [], judge: { model: 'openai/gpt-5-mini', status: 'error', error: 'HTTP 503' } });
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.explain')!();
    expect(fake.messages.find((m) => m.kind === 'warning')?.text).toBe(
      'fuse-ls: Explain with consensus is degraded: judge openai/gpt-5-mini failed (HTTP 503); the votes decided.',
    );
  });
});

describe('findings and progress', () => {
  const range = { start: { line: 4, character: 4 }, end: { line: 4, character: 20 } };

  it('lists identical findings once, keeping the one more models voted for', async () => {
    const { server } = await activate();
    const handle = server.last.spec.clientOptions.middleware!.handleDiagnostics!;
    const seen: unknown[][] = [];
    const a = { range, message: 'eval on input (2/3 models)', severity: 0, source: 'fuse-ls', data: { votes: 2 } };
    const b = { ...a, data: { votes: 3 } };
    const c = { ...a, message: 'other' };
    handle(Uri.parse(URI) as never, [a, b, c] as never, (_uri, diagnostics) => seen.push(diagnostics));
    expect(seen[0]).toEqual([b, c]);
    expect(uniqueDiagnostics([a, a])).toHaveLength(1);
  });

  it('does not ask the server for work-done progress (the notification is the one display)', () => {
    const capabilities: { window?: Record<string, unknown> } = { window: { workDoneProgress: true, showDocument: { support: true } } };
    ownProgressFeature.fillClientCapabilities(capabilities);
    expect(capabilities.window).toEqual({ workDoneProgress: false, showDocument: { support: true } });
  });
});

describe('Fused review of changes (fuse-ls.reviewChanges)', () => {
  it('is in the Source Control title bar for git and in the palette', async () => {
    const { readFileSync } = await import('fs');
    const manifest = JSON.parse(readFileSync(`${__dirname}/../package.json`, 'utf8'));
    expect(manifest.contributes.menus['scm/title']).toEqual([{ command: 'fuseLs.reviewChanges', when: 'scmProvider == git', group: 'navigation' }]);
    expect(manifest.contributes.menus.commandPalette.map((m: { command: string }) => m.command)).toContain('fuseLs.reviewChanges');
  });

  it('asks which change, sends that scope and reports the findings per file', async () => {
    const { server } = await activate();
    fake.pickAnswer = (items) => items.find((i) => i.label === 'Staged changes');
    server.responder = (command) =>
      command === 'fuse-ls.reviewChanges'
        ? { reviewId: 'r', cancelled: false, units: 3, findings: [{ uri: 'file:///ws/a.py' }, { uri: 'file:///ws/a.py' }, { uri: 'file:///ws/b.py' }], skippedFiles: [{ path: 'x.bin', reason: 'binary' }], failedUnits: [] }
        : undefined;
    await fake.commands.get('fuseLs.reviewChanges')!();
    expect(server.last.executeCommands()[0].params).toEqual({ command: 'fuse-ls.reviewChanges', arguments: [{ scope: 'staged' }] });
    expect(fake.progress[0].options).toMatchObject({ title: 'fuse-ls: Fused review of changes', cancellable: true });
    expect(fake.messages.at(-1)).toMatchObject({
      kind: 'info',
      text: 'fuse-ls: the fused review of changes found 3 issues in 2 files (1 file skipped; the log lists them).',
      items: ['Show Problems'],
    });
  });

  it('does nothing when the pick is dismissed', async () => {
    const { server } = await activate();
    await fake.commands.get('fuseLs.reviewChanges')!();
    expect(server.last.executeCommands()).toEqual([]);
  });

  it('cancelling the notification cancels that review alone ($/cancelRequest), not every fusion', async () => {
    const { server } = await activate();
    fake.pickAnswer = (items) => items[0];
    server.responder = (command) => (command === 'fuse-ls.cancel' ? { cancelled: 4 } : new Promise(() => undefined));
    const run = fake.commands.get('fuseLs.reviewChanges')!();
    await settle();
    fake.progress[0].cancel();
    await run;
    await settle();
    const requests = server.last.executeCommands();
    // The language client sends $/cancelRequest when the request's token fires; a
    // fuse-ls.cancel {} would also stop fixes and explanations in other files.
    expect(requests.map((r) => [r.params.command, r.token?.isCancellationRequested])).toEqual([['fuse-ls.reviewChanges', true]]);
    expect(fake.statusMessages.at(-1)).toBe('fuse-ls: Fused review of changes: cancelled');
  });
});

describe('review summary', () => {
  it('says which findings are hints, which the Problems panel does not list', async () => {
    const { server } = await activate();
    server.responder = () => ({ fusionId: 'f', cancelled: false, findings: [{ severity: 'error' }, { severity: 'hint' }, { severity: 'warning' }] });
    fake.setEditor(URI, SOURCE, [3, 0, 5, 0]);
    await fake.commands.get('fuseLs.review')!();
    expect(fake.messages.at(-1)?.text).toBe('fuse-ls: the fused review found 3 issues (1 is a hint: one model, unconfirmed; dotted in the editor, not in Problems).');
  });
});
