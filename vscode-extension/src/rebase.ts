/**
 * A previewed fix, moved over the edits made to its document since it was shown. Pure (no
 * `vscode` import).
 *
 * Two fixes can be up for confirmation in one document at once. Applying the first moves
 * the second's lines when the first added or removed lines above it; the second is still
 * good as long as its own text was not touched: its ranges are mapped through each
 * change the editor reported (in order, as VS Code applies them), and a change that
 * reaches into a fix's range makes it a conflict, with the range those lines now cover,
 * so the fix can be asked for again there.
 */

export interface Pos {
  line: number;
  character: number;
}

export interface Span {
  start: Pos;
  end: Pos;
}

/** One content change as `TextDocumentChangeEvent.contentChanges` reports it. */
export interface TextChange {
  range: Span;
  text: string;
}

export type Rebased<E extends { range: Span }> =
  | { ok: true; edits: E[] }
  /** `where`: what the fix's lines cover now (for asking for a new fix there). */
  | { ok: false; where: Span };

function compare(a: Pos, b: Pos): number {
  return a.line - b.line || a.character - b.character;
}

/** Where the change's inserted text ends. */
function insertedEnd(change: TextChange): Pos {
  const lines = change.text.split('\n');
  const last = lines[lines.length - 1].length;
  return lines.length === 1
    ? { line: change.range.start.line, character: change.range.start.character + last }
    : { line: change.range.start.line + lines.length - 1, character: last };
}

/** A position at or after the end of the changed range, after the change. */
function shift(p: Pos, change: TextChange): Pos {
  const end = insertedEnd(change);
  if (p.line === change.range.end.line) {
    return { line: end.line, character: end.character + (p.character - change.range.end.character) };
  }
  return { line: p.line + end.line - change.range.end.line, character: p.character };
}

/**
 * `span` after `change`: moved when the change ends at or before its start, kept when
 * the change starts at or after its end, undefined when the change reaches into it.
 */
export function mapSpan(span: Span, change: TextChange): Span | undefined {
  if (compare(change.range.end, span.start) <= 0) {
    // An insertion exactly at the start of an empty span is before it, like any other.
    return { start: shift(span.start, change), end: shift(span.end, change) };
  }
  if (compare(change.range.start, span.end) >= 0) {
    return span;
  }
  return undefined;
}

/** What `span` covers after `change`, overlapping or not: its union with the change's text. */
function cover(span: Span, change: TextChange): Span {
  const mapped = mapSpan(span, change);
  if (mapped) {
    return mapped;
  }
  const start = compare(span.start, change.range.start) < 0 ? span.start : change.range.start;
  const end = compare(span.end, change.range.end) > 0 ? shift(span.end, change) : insertedEnd(change);
  return { start, end };
}

/** `edits` moved over `changes` (in the order they were made), or where they conflict. */
export function rebaseEdits<E extends { range: Span }>(edits: readonly E[], changes: readonly TextChange[]): Rebased<E> {
  let current: E[] = [...edits];
  let conflict = false;
  let where: Span = hull(edits.map((e) => e.range));
  for (const change of changes) {
    where = cover(where, change);
    if (conflict) {
      continue;
    }
    const moved: E[] = [];
    for (const edit of current) {
      const range = mapSpan(edit.range, change);
      if (range === undefined) {
        conflict = true;
        break;
      }
      moved.push({ ...edit, range });
    }
    current = moved;
  }
  return conflict ? { ok: false, where } : { ok: true, edits: current };
}

function hull(spans: readonly Span[]): Span {
  return spans.reduce((a, b) => ({
    start: compare(a.start, b.start) <= 0 ? a.start : b.start,
    end: compare(a.end, b.end) >= 0 ? a.end : b.end,
  }));
}

/** The span's lines for a message, 1-based: "line 5" or "lines 5-7". */
export function linesLabel(span: Span): string {
  const first = span.start.line + 1;
  const last = span.end.line + 1;
  return first === last ? `line ${first}` : `lines ${first}-${last}`;
}
