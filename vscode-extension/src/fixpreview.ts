/**
 * The fused fix, previewed and applied on one click.
 *
 * The server sends the fix as `workspace/applyEdit` with a change annotation that needs
 * confirmation. VS Code's own answer to that is the Refactor Preview with the change
 * *unticked*, so its Apply button applies nothing until the user finds the checkbox.
 * The extension answers that request itself instead: a diff of the file against the
 * fixed file, and a notification whose **Apply** applies exactly the previewed change.
 * Edits that need no confirmation are applied as the language client would.
 */
import * as vscode from 'vscode';
import { type FixArrival, fixKindOf } from './fixwaits';
import { describeError, type Logger } from './log';

export const PROPOSED_SCHEME = 'fuse-ls-fix';
export const APPLY = 'Apply';
export const DISCARD = 'Discard';

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

function basename(uri: vscode.Uri): string {
  const path = uri.path;
  return path.slice(path.lastIndexOf('/') + 1) || path;
}

export class FixPreview implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly proposed = new Map<string, string>();
  private readonly registration: vscode.Disposable;
  private next = 1;

  /** `beforeAsking(arrival)`: a fix is about to be shown and asked about; the question
   * waits until it settles (the progress of the request it answers has ended). */
  constructor(
    private readonly logger: Logger,
    private readonly beforeAsking: (arrival: FixArrival) => Promise<void> = () => Promise.resolve(),
  ) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, this);
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
    const stale = this.staleDocument(documents);
    if (stale) {
      return { applied: false, failureReason: `${stale} changed since the fix was made` };
    }
    if (!needsConfirmation(params.edit) || documents.length !== 1) {
      return this.apply(documents);
    }
    const target = documents[0];
    await this.beforeAsking({
      uri: target.uri,
      kind: fixKindOf(params.label),
      lines: { start: Math.min(...target.edits.map((e) => e.range.start.line)), end: Math.max(...target.edits.map((e) => e.range.end.line)) },
      requestKey: target.edits.find((e) => typeof e.annotationId === 'string')?.annotationId,
    });
    return this.previewAndAsk(target, params);
  };

  dispose(): void {
    this.registration.dispose();
    this.proposed.clear();
  }

  private staleDocument(documents: readonly DocumentEdits[]): string | undefined {
    for (const document of documents) {
      if (typeof document.version !== 'number') {
        continue;
      }
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === vscode.Uri.parse(document.uri).toString());
      if (open && open.version !== document.version) {
        return basename(open.uri);
      }
    }
    return undefined;
  }

  private async apply(documents: readonly DocumentEdits[]): Promise<ApplyWorkspaceEditResult> {
    const applied = await vscode.workspace.applyEdit(toWorkspaceEdit(documents));
    return applied ? { applied } : { applied, failureReason: 'VS Code did not apply the edit' };
  }

  private async previewAndAsk(target: DocumentEdits, params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult> {
    const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(target.uri));
    const version = document.version;
    const name = basename(document.uri);
    const proposedUri = vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: `/${this.next++}/${name}` });
    this.proposed.set(proposedUri.toString(), applyToText(document.getText(), target.edits, (p) => document.offsetAt(new vscode.Position(p.line, p.character))));
    const lines = target.edits.map((e) => e.range.start.line + 1);
    const where = `${name}:${Math.min(...lines)}`;
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
    const choice = await vscode.window.showInformationMessage(question, APPLY, DISCARD);
    await this.closeDiff(proposedUri);
    this.proposed.delete(proposedUri.toString());
    if (choice !== APPLY) {
      return { applied: false, failureReason: 'discarded' };
    }
    if (document.version !== version) {
      return { applied: false, failureReason: `${name} changed while the fix was shown` };
    }
    const result = await this.apply([target]);
    if (result.applied) {
      await vscode.window.showTextDocument(document, { preserveFocus: false, preview: false });
    }
    return result;
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
