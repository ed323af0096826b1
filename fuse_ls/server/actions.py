"""Code actions, command arguments and workspace edits.

Listing code actions never calls a model: it only offers commands and, for findings
that carry a fix, quick fixes whose edit is computed on `codeAction/resolve` (or right
away for clients that cannot resolve).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from attrs import frozen
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from fuse_ls.core.types import Task
from fuse_ls.server.diagnostics import SOURCE, Reported

REVIEW = "fuse-ls.review"
EXPLAIN = "fuse-ls.explain"
FIX = "fuse-ls.fix"
CANCEL = "fuse-ls.cancel"
STATS = "fuse-ls.stats"
FINDING_DECISION = "fuse-ls.findingDecision"
REVIEW_CHANGES = "fuse-ls.reviewChanges"
COMMANDS = (REVIEW, EXPLAIN, FIX, CANCEL, STATS, FINDING_DECISION, REVIEW_CHANGES)

KIND_REVIEW = "source.fuse-ls.review"
KIND_EXPLAIN = "source.fuse-ls.explain"
KIND_FIX = "refactor.rewrite.fuse-ls.fix"
KINDS = (KIND_REVIEW, KIND_EXPLAIN, KIND_FIX, types.CodeActionKind.QuickFix.value)

_FUSION_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Fused review of selection", KIND_REVIEW, REVIEW),
    ("Explain with consensus", KIND_EXPLAIN, EXPLAIN),
    ("Fused fix of selection", KIND_FIX, FIX),
)
TASK_OF_COMMAND: dict[str, Task] = {REVIEW: "review", EXPLAIN: "explain", FIX: "fix"}


def invalid(message: str) -> JsonRpcInvalidParams:
    return JsonRpcInvalidParams(message=message)


# --- command arguments ----------------------------------------------------------------


@frozen
class Target:
    """What a fusion command works on: a document and optionally a range in it."""

    uri: str
    range: types.Range | None


def single_argument(command: str, args: Sequence[Any]) -> dict[str, Any]:
    if len(args) == 0:
        return {}
    if len(args) != 1 or not isinstance(args[0], dict):
        raise invalid(f"{command} takes one argument object, got {list(args)!r:.200}")
    return args[0]


def _int(value: Any, where: str) -> int:
    # bool is an int in Python, but never a line number.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid(f"{where} must be a non-negative integer, got {value!r:.80}")
    return value


def parse_range(value: Any, where: str = "range") -> types.Range:
    if not isinstance(value, dict):
        raise invalid(f"{where} must be an LSP range {{start, end}}, got {value!r:.80}")
    points = []
    for name in ("start", "end"):
        p = value.get(name)
        if not isinstance(p, dict):
            raise invalid(f"{where}.{name} must be a position {{line, character}}")
        points.append(
            types.Position(
                line=_int(p.get("line"), f"{where}.{name}.line"),
                character=_int(p.get("character"), f"{where}.{name}.character"),
            )
        )
    start, end = points
    if (start.line, start.character) > (end.line, end.character):
        raise invalid(f"{where} ends before it starts")
    return types.Range(start=start, end=end)


def parse_uri(arg: dict[str, Any], command: str) -> str:
    uri = arg.get("uri")
    if not isinstance(uri, str) or not uri:
        raise invalid(f"{command} needs 'uri' (a document URI string), got {uri!r:.80}")
    return uri


def parse_target(command: str, args: Sequence[Any]) -> Target:
    arg = single_argument(command, args)
    uri = parse_uri(arg, command)
    raw = arg.get("range")
    return Target(uri=uri, range=None if raw is None else parse_range(raw))


@frozen
class Decision:
    uri: str
    finding_id: str
    decision: str


def parse_decision(args: Sequence[Any]) -> Decision:
    arg = single_argument(FINDING_DECISION, args)
    uri = parse_uri(arg, FINDING_DECISION)
    finding_id = arg.get("findingId")
    decision = arg.get("decision")
    if not isinstance(finding_id, str) or not finding_id:
        raise invalid(f"{FINDING_DECISION} needs 'findingId' (a string)")
    if decision not in ("applied", "dismissed"):
        raise invalid(f"'decision' must be 'applied' or 'dismissed', got {decision!r:.80}")
    return Decision(uri=uri, finding_id=finding_id, decision=str(decision))


def parse_cancel(args: Sequence[Any]) -> str | None:
    arg = single_argument(CANCEL, args)
    uri = arg.get("uri")
    if uri is not None and not isinstance(uri, str):
        raise invalid(f"{CANCEL}: 'uri' must be a string when given, got {uri!r:.80}")
    return uri


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
    """The three fusion commands for a selection; an empty selection means the document."""
    argument: dict[str, Any] = {"uri": uri}
    if selection.start != selection.end:
        argument["range"] = _range_json(selection)
    return [
        types.CodeAction(
            title=title,
            kind=kind,
            command=types.Command(title=title, command=command, arguments=[argument]),
        )
        for title, kind, command in _FUSION_ACTIONS
        if _wanted(kind, only)
    ]


def quick_fix_title(r: Reported) -> str:
    first_line = r.message.strip().splitlines()[0] if r.message.strip() else r.category
    if len(first_line) > 60:
        first_line = first_line[:57] + "..."
    return f"Apply fused fix: {first_line}"


def quick_fixes(
    uri: str,
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
        data={"uri": uri, "findingId": r.finding_id},
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
) -> types.WorkspaceEdit:
    """One replacement as a WorkspaceEdit in the richest form the client takes.

    `confirm` (label, description) attaches a change annotation with
    needsConfirmation, so editors that can show a preview before applying do.
    """
    if confirm is not None and supports_annotations(caps):
        annotation_id = f"fuse-ls-{uuid.uuid4().hex[:8]}"
        label, description = confirm
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
