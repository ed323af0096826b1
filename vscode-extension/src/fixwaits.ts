/**
 * Which progress notification a fix's arrival ends. Pure (no `vscode` import).
 *
 * A "Fused fix" or a "Verify fix" with apply ends with the server sending the fix as a
 * `workspace/applyEdit` to confirm, and it answers its command only once the user did:
 * the request's notification closes when its fix arrives, not beside the question. That
 * edit names no request by itself. A server that advertises `requestKey`
 * (capabilities.experimental.fuseLs, docs/protocol.md) takes a key with the request and
 * echoes it as the edit's change annotation id: the fix then ends exactly its request's
 * notification. An older server's fix is matched to the request that expects it: same
 * document, same kind (the edit's label says "fused fix" or "verified fix"), and the lines
 * the request asked about. When that leaves more than one request (two fixes of the same
 * lines), no notification closes early: each one still closes at its own command's answer,
 * and never at another request's fix.
 */

export type FixKind = 'fix' | 'verify';

/** 0-based, inclusive. */
export interface LineSpan {
  start: number;
  end: number;
}

export interface FixExpectation {
  uri: string;
  kind: FixKind;
  /** The lines the fix will replace; 'whole': the whole document; undefined: not known. */
  lines?: LineSpan | 'whole';
  /** The `requestKey` sent with the request: its fix carries it back. */
  requestKey?: string;
}

export interface FixArrival {
  uri: string;
  /** Undefined when the label is not one the server sends. */
  kind?: FixKind;
  lines: LineSpan;
  /** The change annotation id of the edit: a request's key when the server echoes one. */
  requestKey?: string;
}

export interface FixWait {
  /** Settles when this request's fix has arrived. */
  arrived: Promise<void>;
  /** Call once the notification is gone: the question waits for it. */
  closed(): void;
  /** Call when the command is over. */
  release(): void;
}

interface Waiting {
  expect: FixExpectation;
  doc: string;
  ended: boolean;
  end(): void;
  closed: Promise<void>;
}

/** The labels fuse_ls/server/fix.py gives the edit (ApplyWorkspaceEditParams.label). */
export function fixKindOf(label: string | undefined): FixKind | undefined {
  if (label === 'fuse-ls: fused fix') {
    return 'fix';
  }
  if (label === 'fuse-ls: verified fix') {
    return 'verify';
  }
  return undefined;
}

/**
 * The lines the server rewrites for a fix of `range` (fuse_ls/server/fusions.py
 * `selected_lines`): whole lines, and a selection ending at column 0 of a later line
 * stops at the line before.
 */
export function selectedLines(range: { start: { line: number; character: number }; end: { line: number; character: number } }): LineSpan {
  const end = range.end.character === 0 && range.end.line > range.start.line ? range.end.line - 1 : range.end.line;
  return { start: range.start.line, end };
}

function matches(expected: FixExpectation['lines'], lines: LineSpan): boolean {
  if (expected === undefined) {
    return false;
  }
  if (expected === 'whole') {
    return lines.start === 0;
  }
  return expected.start === lines.start && expected.end === lines.end;
}

export class FixWaits {
  private readonly waiting = new Set<Waiting>();

  /** `normalize`: one spelling of a document uri (the server may percent-encode). */
  constructor(private readonly normalize: (uri: string) => string = (uri) => uri) {}

  wait(expect: FixExpectation): FixWait {
    let end = (): void => {};
    let closed = (): void => {};
    const arrived = new Promise<void>((resolve) => (end = resolve));
    const waiting: Waiting = {
      expect,
      doc: this.normalize(expect.uri),
      ended: false,
      end: () => {
        waiting.ended = true;
        end();
      },
      closed: new Promise<void>((resolve) => (closed = resolve)),
    };
    this.waiting.add(waiting);
    return {
      arrived,
      closed,
      release: () => {
        closed();
        this.waiting.delete(waiting);
      },
    };
  }

  /** How many requests wait for a fix (for tests and the log). */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * A fix to `arrival.uri` is about to be asked about: ends the notification of the
   * request it belongs to and settles once that is gone. Ends nothing when no request,
   * or more than one, can be its owner.
   */
  async arrived(arrival: FixArrival): Promise<void> {
    const owner = this.owner(arrival);
    if (owner === undefined) {
      return;
    }
    owner.end();
    await owner.closed;
  }

  private owner(arrival: FixArrival): Waiting | undefined {
    const open = [...this.waiting].filter((w) => !w.ended);
    if (arrival.requestKey !== undefined) {
      const keyed = open.find((w) => w.expect.requestKey === arrival.requestKey);
      if (keyed !== undefined) {
        return keyed;
      }
    }
    // A request sent with a key gets its fix by that key, never by a guess.
    const doc = this.normalize(arrival.uri);
    let candidates = open.filter((w) => w.expect.requestKey === undefined && w.doc === doc);
    if (arrival.kind !== undefined) {
      candidates = candidates.filter((w) => w.expect.kind === arrival.kind);
    }
    if (candidates.length === 1) {
      return candidates[0];
    }
    const same = candidates.filter((w) => matches(w.expect.lines, arrival.lines));
    return same.length === 1 ? same[0] : undefined;
  }
}
