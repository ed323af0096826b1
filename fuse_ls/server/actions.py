"""Code actions, command arguments and workspace edits.

Listing code actions never calls a model: it only offers commands and, for findings
that carry a fix, quick fixes whose edit is computed on `codeAction/resolve` (or right
away for clients that cannot resolve).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from fuse_ls.core.lines import keep_blank_edges, split_keepends
from fuse_ls.core.types import MODES
from fuse_ls.safetext import bidi_shown
from fuse_ls.server.diagnostics import SOURCE, Reported
from fuse_ls.server.wire import FixData, unstructure

REVIEW = "fuse-ls.review"
EXPLAIN = "fuse-ls.explain"
FIX = "fuse-ls.fix"
CANCEL = "fuse-ls.cancel"
STATS = "fuse-ls.stats"
FINDING_DECISION = "fuse-ls.findingDecision"
REVIEW_CHANGES = "fuse-ls.reviewChanges"
VERIFY_FINDING = "fuse-ls.verifyFinding"

KIND_REVIEW = "source.fuse-ls.review"
KIND_EXPLAIN = "source.fuse-ls.explain"
KIND_FIX = "refactor.rewrite.fuse-ls.fix"
KIND_VERIFY_FIX = "quickfix.fuse-ls.verify"
KINDS = (
    KIND_REVIEW,
    *(f"{KIND_REVIEW}.{mode}" for mode in MODES),
    KIND_EXPLAIN,
    KIND_FIX,
    types.CodeActionKind.QuickFix.value,
    KIND_VERIFY_FIX,
)

# (title, kind, command, mode): mode None runs the configured mode. The per-mode reviews
# let an editor offer "debate" next to "merge" without changing any setting; their kinds
# sit under KIND_REVIEW, so asking for `source.fuse-ls.review` lists them too.
_FUSION_ACTIONS: tuple[tuple[str, str, str, str | None], ...] = (
    ("Fused review of selection", KIND_REVIEW, REVIEW, None),
    *((f"Fused review ({mode})", f"{KIND_REVIEW}.{mode}", REVIEW, mode) for mode in MODES),
    ("Explain with consensus", KIND_EXPLAIN, EXPLAIN, None),
    ("Fused fix of selection", KIND_FIX, FIX, None),
)


# --- listing --------------------------------------------------------------------------


def _wanted(kind: str, only: Sequence[str] | None) -> bool:
    # CodeActionKind is hierarchical: asking for "refactor" includes "refactor.rewrite.*".
    return only is None or any(kind == o or kind.startswith(o + ".") for o in only)


def _range_json(r: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def fusion_actions(
    uri: str, selection: types.Range, only: Sequence[str] | None
) -> list[types.CodeAction]:
    """The fusion commands for a selection (review also once per mode); an empty
    selection means the document."""
    target: dict[str, Any] = {"uri": uri}
    if selection.start != selection.end:
        target["range"] = _range_json(selection)
    listed = []
    for title, kind, command, mode in _FUSION_ACTIONS:
        if not _wanted(kind, only):
            continue
        argument = target if mode is None else {**target, "mode": mode}
        listed.append(
            types.CodeAction(
                title=title,
                kind=kind,
                command=types.Command(title=title, command=command, arguments=[argument]),
            )
        )
    return listed


def quick_fix_title(r: Reported) -> str:
    first_line = r.message.strip().splitlines()[0] if r.message.strip() else r.category
    if len(first_line) > 60:
        first_line = first_line[:57] + "..."
    return bidi_shown(f"Apply fused fix: {first_line}")


def quick_fixes(
    diagnostics: Sequence[types.Diagnostic],
    live: dict[str, Reported],
    only: Sequence[str] | None,
) -> list[tuple[types.Diagnostic, Reported]]:
    """The client's diagnostics in range that are ours, still live, and carry a fix."""
    if not _wanted(types.CodeActionKind.QuickFix.value, only):
        return []
    out = []
    for diagnostic in diagnostics:
        data = diagnostic.data
        if diagnostic.source != SOURCE or not isinstance(data, dict):
            continue
        reported = live.get(str(data.get("findingId")))
        if reported is not None and reported.replacement is not None:
            out.append((diagnostic, reported))
    return out


def unresolved_quick_fix(uri: str, diagnostic: types.Diagnostic, r: Reported) -> types.CodeAction:
    return types.CodeAction(
        title=quick_fix_title(r),
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=r.confirmed is True,
        data=unstructure(FixData(uri=uri, finding_id=r.finding_id)),
    )


def verify_fix_action(uri: str, diagnostic: types.Diagnostic, r: Reported) -> types.CodeAction:
    """Run the project's checks on the quick fix first; the edit comes after them, with a
    preview that says how they went (offered only when `verify.commands` is set)."""
    title = "Verify, then apply: " + quick_fix_title(r).removeprefix("Apply fused fix: ")
    return types.CodeAction(
        title=title,
        kind=KIND_VERIFY_FIX,
        diagnostics=[diagnostic],
        command=types.Command(
            title=title,
            command=VERIFY_FINDING,
            arguments=[{"uri": uri, "findingId": r.finding_id, "apply": True}],
        ),
    )


def decision_command(uri: str, finding_id: str) -> types.Command:
    """Run by the client after it applied the quick fix: that is how we learn it was."""
    return types.Command(
        title="Record fused fix applied",
        command=FINDING_DECISION,
        arguments=[{"uri": uri, "findingId": finding_id, "decision": "applied"}],
    )


# --- edits ----------------------------------------------------------------------------


def supports_annotations(caps: types.ClientCapabilities) -> bool:
    edit = caps.workspace.workspace_edit if caps.workspace else None
    return bool(
        edit is not None and edit.document_changes and edit.change_annotation_support is not None
    )


def supports_document_changes(caps: types.ClientCapabilities) -> bool:
    edit = caps.workspace.workspace_edit if caps.workspace else None
    return bool(edit is not None and edit.document_changes)


def fix_text(replacement: str, source: str, r: types.Range) -> str:
    """`replacement` as written over whole lines `r` of `source`: the secrets the model saw
    redacted are put back from those lines (RedactedFix when they cannot be)."""
    # The redaction rules load on the first fix, not at server start (see server.py).
    from fuse_ls.core.redact import restore

    original = "".join(split_keepends(source)[r.start.line : r.end.line + 1])
    return replacement_text(keep_blank_edges(restore(replacement, original), original))


def replacement_text(replacement: str) -> str:
    # Findings replace whole lines and our ranges stop at the end of the last line, so the
    # line break after it stays in the document; a trailing one in the answer would double.
    return replacement[:-1] if replacement.endswith("\n") else replacement


def workspace_edit(
    caps: types.ClientCapabilities,
    uri: str,
    version: int | None,
    r: types.Range,
    new_text: str,
    confirm: tuple[str, str] | None = None,
    annotation_id: str | None = None,
) -> types.WorkspaceEdit:
    """One replacement as a WorkspaceEdit in the richest form the client takes.

    `confirm` (label, description) attaches a change annotation with
    needsConfirmation, so editors that can show a preview before applying do. Its id is
    `annotation_id` when given: the client's request key, echoed (docs/protocol.md).
    """
    if confirm is not None and supports_annotations(caps):
        annotation_id = annotation_id or f"fuse-ls-{uuid.uuid4().hex[:8]}"
        # The preview's words are shown with bidi controls marked; `new_text` is the
        # code and stays exact (the editor highlights bidi controls in code itself).
        label, description = bidi_shown(confirm[0]), bidi_shown(confirm[1])
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=version
                    ),
                    edits=[
                        types.AnnotatedTextEdit(
                            range=r, new_text=new_text, annotation_id=annotation_id
                        )
                    ],
                )
            ],
            change_annotations={
                annotation_id: types.ChangeAnnotation(
                    label=label, needs_confirmation=True, description=description
                )
            },
        )
    if supports_document_changes(caps):
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=version
                    ),
                    edits=[types.TextEdit(range=r, new_text=new_text)],
                )
            ]
        )
    return types.WorkspaceEdit(changes={uri: [types.TextEdit(range=r, new_text=new_text)]})


def supports_resolve(caps: types.ClientCapabilities) -> bool:
    code_action = caps.text_document.code_action if caps.text_document else None
    support = code_action.resolve_support if code_action else None
    return support is not None and "edit" in support.properties
