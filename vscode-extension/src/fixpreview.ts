/**
 * The fused fix, previewed and applied on one click.
 *
 * The server sends the fix as `workspace/applyEdit` with a change annotation that needs
 * confirmation. VS Code's own answer to that is the Refactor Preview with the change
 * *unticked*, so its Apply button applies nothing until the user finds the checkbox.
 * The extension answers that request itself instead: a diff of the file against the
 * fixed file, and a notification whose **Apply** applies exactly the previewed change.
 * Edits that need no confirmation are applied as the language client would.
 *
 * Two fixes can wait for an answer in one document at once: the first applied moves the
 * second, which then applies where its lines went (src/rebase.ts), unless its own lines
 * changed; then it is refused with a "Fix Again" that asks for a new fix of those lines.
 * A fix made for a version the editor has since left (the server had not heard of the
 * latest edit yet) is moved the same way over the edits in between.
 * This is the client's business: the server sent the edit for the document it knew and
 * only waits for the answer.
 */
import * as vscode from 'vscode';
import { type FixArrival, type FixKind, fixKindOf } from './fixwaits';
import { describeError, type Logger } from './log';
import { inertLinks } from './messages';
import { linesLabel, rebaseEdits, type Span, type TextChange } from './rebase';

export const PROPOSED_SCHEME = 'fuse-ls-fix';
export const APPLY = 'Apply';
export const DISCARD = 'Discard';
/** The button of a refused fix's message: a new fused fix of the lines as they are now. */
export const FIX_AGAIN = 'Fix Again';

interface LspPosition {
  line: number;
  character: number;
}
interface LspTextEdit {
  range: { start: LspPosition; end: LspPosition };
  newText: string;
  annotationId?: string;
}
interface LspTextDocumentEdit {
  textDocument: { uri: string; version?: number | null };
  edits: LspTextEdit[];
}
export interface LspWorkspaceEdit {
  changes?: Record<string, LspTextEdit[]>;
  documentChanges?: unknown[];
  changeAnnotations?: Record<string, { label: string; needsConfirmation?: boolean; description?: string }>;
}
export interface ApplyWorkspaceEditParams {
  label?: string;
  edit: LspWorkspaceEdit;
}
export interface ApplyWorkspaceEditResult {
  applied: boolean;
  failureReason?: string;
}

interface DocumentEdits {
  uri: string;
  version?: number | null;
  edits: LspTextEdit[];
}

function isTextDocumentEdit(change: unknown): change is LspTextDocumentEdit {
  const c = change as Partial<LspTextDocumentEdit> | null;
  return typeof c === 'object' && c !== null && typeof c.textDocument?.uri === 'string' && Array.isArray(c.edits);
}

/** Text edits per document, or undefined when the edit holds more (file operations). */
export function textEditsOf(edit: LspWorkspaceEdit): DocumentEdits[] | undefined {
  if (Array.isArray(edit.documentChanges)) {
    if (!edit.documentChanges.every(isTextDocumentEdit)) {
      return undefined;
    }
    return edit.documentChanges.map((c) => ({ uri: c.textDocument.uri, version: c.textDocument.version, edits: c.edits }));
  }
  return Object.entries(edit.changes ?? {}).map(([uri, edits]) => ({ uri, edits }));
}

export function needsConfirmation(edit: LspWorkspaceEdit): boolean {
  return Object.values(edit.changeAnnotations ?? {}).some((a) => a.needsConfirmation === true);
}

/** The text after the edits, applied from the last to the first (offsets stay valid). */
export function applyToText(text: string, edits: readonly LspTextEdit[], offsetAt: (p: LspPosition) => number): string {
  const spans = edits
    .map((e) => ({ start: offsetAt(e.range.start), end: offsetAt(e.range.end), text: e.newText }))
    .sort((a, b) => b.start - a.start);
  let out = text;
  for (const span of spans) {
    out = out.slice(0, span.start) + span.text + out.slice(span.end);
  }
  return out;
}

function toWorkspaceEdit(documents: readonly DocumentEdits[]): vscode.WorkspaceEdit {
  const edit = new vscode.WorkspaceEdit();
  for (const document of documents) {
    const uri = vscode.Uri.parse(document.uri);
    for (const e of document.edits) {
      const range = new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character);
      edit.replace(uri, range, e.newText);
    }
  }
  return edit;
}

function toRange(span: Span): vscode.Range {
  return new vscode.Range(span.start.line, span.start.character, span.end.line, span.end.character);
}

/** `span` widened to whole lines of `document` (as a fix's range is), as LSP positions. */
function wholeLines(document: vscode.TextDocument, span: Span): Span {
  const last = Math.max(0, document.lineCount - 1);
  const start = Math.min(span.start.line, last);
  const end = Math.min(Math.max(span.end.line, start), last);
  return { start: { line: start, character: 0 }, end: { line: end, character: document.lineAt(end).text.length } };
}

function textChange(change: vscode.TextDocumentContentChangeEvent): TextChange {
  const r = change.range;
  return { range: { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } }, text: change.text };
}

/** The changes made to the document `uri` from now on, in order, until disposed. */
function watchChanges(uri: string): { seen: TextChange[]; dispose(): void } {
  const key = vscode.Uri.parse(uri).toString();
  const seen: TextChange[] = [];
  const listener = vscode.workspace.onDidChangeTextDocument((event) => {
    if (event.document.uri.toString() === key) {
      seen.push(...event.contentChanges.map(textChange));
    }
  });
  return {
    seen,
    dispose: () => {
      listener.dispose();
    },
  };
}

function basename(uri: vscode.Uri): string {
  const path = uri.path;
  return path.slice(path.lastIndexOf('/') + 1) || path;
}

/** How many edits of a document are remembered (see `FixPreview.history`). */
const HISTORY = 64;

export class FixPreview implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly proposed = new Map<string, string>();
  private readonly registrations: vscode.Disposable[];
  /**
   * The recent edits of each open document, by the version each one made: a fix the
   * server made for a version the editor has since left (its `didChange` was still on
   * the way) is moved over them to where its lines are now.
   */
  private readonly history = new Map<string, { version: number; changes: TextChange[] }[]>();
  private next = 1;

  /** `beforeAsking(arrival)`: a fix is about to be shown and asked about; the question
   * waits until it settles (the progress of the request it answers has ended). */
  constructor(
    private readonly logger: Logger,
    private readonly beforeAsking: (arrival: FixArrival) => Promise<void> = () => Promise.resolve(),
    /** A refusal this class told the user about (with its button): not to be said again. */
    private readonly refused: (reason: string) => void = () => undefined,
  ) {
    this.registrations = [
      vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, this),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.contentChanges.length === 0) {
          return;
        }
        const key = event.document.uri.toString();
        const log = this.history.get(key) ?? [];
        log.push({ version: event.document.version, changes: event.contentChanges.map(textChange) });
        this.history.set(key, log.slice(-HISTORY));
      }),
      vscode.workspace.onDidCloseTextDocument((document) => {
        this.history.delete(document.uri.toString());
      }),
    ];
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.proposed.get(uri.toString()) ?? '';
  }

  /** The handler of the server's `workspace/applyEdit`. */
  readonly applyEdit = async (params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult> => {
    const documents = textEditsOf(params.edit);
    if (documents === undefined) {
      return { applied: false, failureReason: 'the edit holds file operations, which fuse-ls never sends' };
    }
    const current = this.catchUp(documents);
    if (!Array.isArray(current)) {
      const what = 'changed since the fix was made';
      return current.where ? this.refuse(current.document, current.where, what, fixKindOf(params.label)) : { applied: false, failureReason: `${basename(current.document.uri)} ${what}` };
    }
    if (!needsConfirmation(params.edit) || current.length !== 1) {
      return this.apply(current);
    }
    const made = documents[0];
    const target = current[0];
    // From here on, every change to the document moves the fix or conflicts with it.
    const changes = watchChanges(target.uri);
    try {
      // The lines the server made it for: those its request asked about.
      await this.beforeAsking({
        uri: made.uri,
        kind: fixKindOf(params.label),
        lines: { start: Math.min(...made.edits.map((e) => e.range.start.line)), end: Math.max(...made.edits.map((e) => e.range.end.line)) },
        requestKey: made.edits.find((e) => typeof e.annotationId === 'string')?.annotationId,
      });
      return await this.previewAndAsk(target, params, changes.seen);
    } finally {
      changes.dispose();
    }
  };

  dispose(): void {
    for (const registration of this.registrations) {
      registration.dispose();
    }
    this.proposed.clear();
    this.history.clear();
  }

  /**
   * `documents` as of the versions open now: each one made for an older version moved
   * over the edits since. Else the document whose own lines changed (`where` they are
   * now), or whose edits since are not all known (no `where`).
   */
  private catchUp(documents: readonly DocumentEdits[]): DocumentEdits[] | { document: vscode.TextDocument; where?: Span } {
    const out: DocumentEdits[] = [];
    for (const document of documents) {
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === vscode.Uri.parse(document.uri).toString());
      if (typeof document.version !== 'number' || !open || open.version === document.version) {
        out.push(document);
        continue;
      }
      const changes = this.changesSince(open.uri.toString(), document.version, open.version);
      if (changes === undefined) {
        return { document: open };
      }
      const moved = rebaseEdits(document.edits, changes);
      if (!moved.ok) {
        return { document: open, where: moved.where };
      }
      out.push({ uri: document.uri, version: open.version, edits: moved.edits });
    }
    return out;
  }

  /** The edits that took the document from version `from` to `to`, if every one is known. */
  private changesSince(key: string, from: number, to: number): TextChange[] | undefined {
    const log = (this.history.get(key) ?? []).filter((e) => e.version > from && e.version <= to);
    const complete = log.length > 0 && log[0].version === from + 1 && log[log.length - 1].version === to && log.every((e, i) => i === 0 || e.version === log[i - 1].version + 1);
    return complete ? log.flatMap((e) => e.changes) : undefined;
  }

  private async apply(documents: readonly DocumentEdits[]): Promise<ApplyWorkspaceEditResult> {
    const applied = await vscode.workspace.applyEdit(toWorkspaceEdit(documents));
    return applied ? { applied } : { applied, failureReason: 'VS Code did not apply the edit' };
  }

  private async previewAndAsk(target: DocumentEdits, params: ApplyWorkspaceEditParams, changes: readonly TextChange[]): Promise<ApplyWorkspaceEditResult> {
    const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(target.uri));
    const name = basename(document.uri);
    const kind = fixKindOf(params.label);
    // Typed into while its request's notification closed: shown where its lines are now.
    const atShow = rebaseEdits(target.edits, changes);
    if (!atShow.ok) {
      return this.refuse(document, atShow.where, 'changed before the fix was shown', kind);
    }
    const shown = atShow.edits;
    const original = shown.map((e) => document.getText(toRange(e.range)));
    const version = document.version;
    const seen = changes.length;
    const proposedUri = vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: `/${this.next++}/${name}` });
    this.proposed.set(proposedUri.toString(), applyToText(document.getText(), shown, (p) => document.offsetAt(new vscode.Position(p.line, p.character))));
    const where = `${name}:${Math.min(...shown.map((e) => e.range.start.line + 1))}`;
    try {
      await vscode.commands.executeCommand('vscode.diff', document.uri, proposedUri, `${name} ↔ fused fix`, { preview: true, preserveFocus: true });
    } catch (error) {
      // No diff: the question still says what would change; never apply unseen silently.
      this.logger.error('Showing the fused fix as a diff failed', error);
    }
    const annotation = Object.values(params.edit.changeAnnotations ?? {})[0];
    const why = annotation?.description ? ` ${annotation.description}` : '';
    // With verify.commands set, the server's label says how the project's checks went.
    const checks = /checks (passed|failed).*/.exec(annotation?.label ?? '')?.[0];
    const question = checks?.startsWith('checks failed')
      ? `fuse-ls: The fused fix FAILED its checks. Apply it to ${where} anyway?${why}`
      : `fuse-ls: Apply the fused fix to ${where}?${checks ? ` (${checks})` : ''}${why}`;
    const choice = await vscode.window.showInformationMessage(inertLinks(question), APPLY, DISCARD);
    await this.closeDiff(proposedUri);
    this.proposed.delete(proposedUri.toString());
    if (choice !== APPLY) {
      return { applied: false, failureReason: 'discarded' };
    }
    let edits = shown;
    if (document.version !== version) {
      // Edited while the question was up (another fix applied, say): the fix still
      // applies where its own lines went, as long as they are exactly as it saw them.
      const now = rebaseEdits(shown, changes.slice(seen));
      if (!now.ok) {
        return this.refuse(document, now.where, 'changed while the fix was shown', kind);
      }
      const moved = now.edits.findIndex((e, i) => document.getText(toRange(e.range)) !== original[i]);
      if (moved >= 0) {
        return this.refuse(document, now.edits[moved].range, 'changed while the fix was shown', kind);
      }
      edits = now.edits;
    }
    const result = await this.apply([{ uri: target.uri, edits }]);
    if (result.applied) {
      await vscode.window.showTextDocument(document, { preserveFocus: false, preview: false });
    }
    return result;
  }

  /**
   * The fix's own lines changed: nothing is applied, and the message offers to fix those
   * lines again as they are now, the way the refused fix was asked for: a new fused fix,
   * or "Verify fix" of the finding there again (its checks are why the user asked for it).
   * The answer's reason says the same to the server, and the command that asked for the
   * fix does not say it a second time.
   */
  private refuse(document: vscode.TextDocument, where: Span, what: string, kind: FixKind | undefined): ApplyWorkspaceEditResult {
    const name = basename(document.uri);
    const lines = linesLabel(where);
    const reason = `${name} ${lines} ${what}`;
    this.refused(reason);
    const range = wholeLines(document, where);
    const verify = kind === 'verify';
    void vscode.window
      .showWarningMessage(inertLinks(`fuse-ls: the ${verify ? 'verified' : 'fused'} fix was not applied: ${name} ${lines} ${what}.`), FIX_AGAIN)
      .then(async (choice) => {
        if (choice === FIX_AGAIN) {
          await vscode.commands.executeCommand(verify ? 'fuseLs.verifyFix' : 'fuseLs.fix', { uri: document.uri.toString(), range });
        }
      });
    return { applied: false, failureReason: reason };
  }

  private async closeDiff(proposedUri: vscode.Uri): Promise<void> {
    try {
      const groups = vscode.window.tabGroups?.all ?? [];
      const tabs = groups.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === proposedUri.toString());
      if (tabs.length > 0) {
        await vscode.window.tabGroups.close(tabs);
      }
    } catch (error) {
      this.logger.info(`Could not close the fix preview: ${describeError(error)}`);
    }
  }
}
