/** A previewed fix moved over the edits made since it was shown (src/rebase.ts). */
import { describe, expect, it } from 'vitest';
import { linesLabel, mapSpan, rebaseEdits, type Span, type TextChange } from '../src/rebase';

const span = (l1: number, c1: number, l2: number, c2: number): Span => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });
const change = (l1: number, c1: number, l2: number, c2: number, text: string): TextChange => ({ range: span(l1, c1, l2, c2), text });

/** Applies changes to text as VS Code reports them: one after the other. */
function applied(text: string, changes: readonly TextChange[]): string {
  let out = text;
  for (const c of changes) {
    out = out.slice(0, offsetOf(out, c.range.start)) + c.text + out.slice(offsetOf(out, c.range.end));
  }
  return out;
}

function textAt(text: string, s: Span): string {
  return text.slice(offsetOf(text, s.start), offsetOf(text, s.end));
}

function offsetOf(text: string, p: { line: number; character: number }): number {
  return text.split('\n').slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
}

const SOURCE = ['import json', '', 'def load(text):', '    value = eval(text)', '    return value', '', 'def dump(x):', '    return repr(x)', ''].join('\n');

describe('rebaseEdits', () => {
  it('moves a fix down by the lines an edit above it added, and its text is still there', () => {
    const fix = { range: span(6, 0, 7, 18), newText: 'def dump(x):\n    return json.dumps(x)' };
    const first = change(3, 0, 4, 16, '    value = json.loads(text)\n    if value is None:\n        return {}\n    return value');
    const rebased = rebaseEdits([fix], [first]);
    expect(rebased).toEqual({ ok: true, edits: [{ ...fix, range: span(8, 0, 9, 18) }] });
    const after = applied(SOURCE, [first]);
    expect(textAt(after, span(8, 0, 9, 18))).toBe(textAt(SOURCE, fix.range));
  });

  it('moves it up when lines above were removed, and along a line for an edit before it on its line', () => {
    const fix = { range: span(7, 4, 7, 18), newText: 'return json.dumps(x)' };
    expect(rebaseEdits([fix], [change(0, 0, 2, 0, '')])).toEqual({ ok: true, edits: [{ ...fix, range: span(5, 4, 5, 18) }] });
    // "    " becomes "\t": the fix's columns move back by three.
    expect(rebaseEdits([fix], [change(7, 0, 7, 4, '\t')])).toEqual({ ok: true, edits: [{ ...fix, range: span(7, 1, 7, 15) }] });
  });

  it('keeps a fix where it is for edits after it, or touching it only at its end', () => {
    const fix = { range: span(3, 0, 4, 16), newText: 'x' };
    const changes = [change(7, 0, 7, 18, '    return str(x)'), change(4, 16, 4, 16, '  # done'), change(5, 0, 5, 0, '\n\n')];
    expect(rebaseEdits([fix], changes)).toEqual({ ok: true, edits: [fix] });
  });

  it('an insertion right at its start moves it; an edit ending right where it starts moves it too', () => {
    const fix = { range: span(3, 0, 4, 16), newText: 'x' };
    expect(rebaseEdits([fix], [change(3, 0, 3, 0, '# note\n')])).toEqual({ ok: true, edits: [{ ...fix, range: span(4, 0, 5, 16) }] });
    expect(rebaseEdits([fix], [change(2, 0, 3, 0, '')])).toEqual({ ok: true, edits: [{ ...fix, range: span(2, 0, 3, 16) }] });
  });

  it('follows several edits in the order they were made', () => {
    const fix = { range: span(6, 0, 7, 18), newText: 'x' };
    const changes = [change(0, 0, 0, 0, 'import ast\n'), change(9, 0, 9, 0, '# end\n'), change(1, 0, 2, 0, '')];
    const rebased = rebaseEdits([fix], changes);
    expect(rebased).toEqual({ ok: true, edits: [{ ...fix, range: span(6, 0, 7, 18) }] });
    expect(textAt(applied(SOURCE, changes), span(6, 0, 7, 18))).toBe(textAt(SOURCE, fix.range));
  });

  it('conflicts when an edit reaches into its lines, and says which lines they are now', () => {
    const fix = { range: span(3, 0, 4, 16), newText: 'x' };
    // Line 4 ("    return value") became three lines.
    const inside = change(4, 0, 4, 16, '    if value is None:\n        return {}\n    return value');
    const rebased = rebaseEdits([fix], [inside]);
    expect(rebased).toEqual({ ok: false, where: span(3, 0, 6, 16) });
    expect(linesLabel((rebased as { where: Span }).where)).toBe('lines 4-7');
    expect(linesLabel(span(3, 4, 3, 9))).toBe('line 4');
    // A one-character edit inside counts as much as a rewrite.
    expect(rebaseEdits([fix], [change(3, 10, 3, 11, 'V')]).ok).toBe(false);
    // Lines removed above after the conflict still move what it covers.
    expect(rebaseEdits([fix], [inside, change(0, 0, 2, 0, '')])).toEqual({ ok: false, where: span(1, 0, 4, 16) });
  });

  it('a conflict that spans past the fix covers the whole edit', () => {
    const fix = { range: span(3, 0, 3, 22), newText: 'x' };
    expect(rebaseEdits([fix], [change(2, 5, 5, 0, 'X\n')])).toEqual({ ok: false, where: span(2, 5, 3, 0) });
  });
});

describe('mapSpan', () => {
  it('is undefined only for an edit that overlaps the span', () => {
    const s = span(2, 4, 2, 8);
    expect(mapSpan(s, change(2, 0, 2, 4, ''))).toEqual(span(2, 0, 2, 4));
    expect(mapSpan(s, change(2, 8, 2, 9, ''))).toEqual(s);
    expect(mapSpan(s, change(2, 7, 2, 9, ''))).toBeUndefined();
    expect(mapSpan(s, change(2, 3, 2, 5, ''))).toBeUndefined();
    expect(mapSpan(s, change(2, 5, 2, 5, 'x'))).toBeUndefined();
  });
});
