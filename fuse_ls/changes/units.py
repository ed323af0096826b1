"""Review units: a changed hunk with the code a reviewer needs around it.

A hunk grows to its enclosing function (or class, for changes in a class body) when the
language's parser can tell where that is (Python's `ast`; tree-sitter grammars for
JavaScript, TypeScript, Go, Rust and Java when the `grammars` extra is installed), else
to a window of lines.
Units that overlap or sit close together in one file become one request, as long as the
result stays under the token limit; a region that is too large on its own is cut into
pieces, and only pieces with changed lines are kept.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from attrs import frozen

from fuse_ls.fusion.pricing import CHARS_PER_TOKEN

WINDOW = 8  # lines of context on each side of a hunk when no parser knows better
BATCH_GAP = 12  # units at most this many lines apart are asked in one request
MAX_REGION_LINES = 160  # a larger enclosing definition falls back to a window
CONTEXT_LINES = 3  # lines shown before/after a unit as context only


@frozen
class Unit:
    path: str  # relative to the repository (or the workspace)
    language: str
    start_line: int  # 1-based, inclusive: the lines the models review
    end_line: int
    changed: frozenset[int]  # changed line numbers inside start..end
    code: str
    context_before: str
    context_after: str
    scope: str  # for people: "function load", "lines 10-30"

    @property
    def changed_ranges(self) -> list[tuple[int, int]]:
        return runs(self.changed)


def runs(lines: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs: {1,2,3,7} -> [(1,3), (7,7)]."""
    out: list[tuple[int, int]] = []
    for n in sorted(lines):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def format_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


@frozen
class _Region:
    start: int
    end: int
    scope: str


def _python_scopes(text: str) -> list[_Region] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    out: list[_Region] = []
    # Definitions live only in statement lists: walking those, not every expression
    # node, is what keeps this fast on large files.
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            end = node.end_lineno or node.lineno
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            out.append(_Region(start, end, f"{kind} {node.name}"))
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if isinstance(children, list):
                stack.extend(c for c in children if isinstance(c, ast.AST))
    return out


Enclosing = Callable[[int], "_Region | None"]


def _enclosing_in(scopes: Sequence[_Region]) -> Enclosing:
    def find(line: int) -> _Region | None:
        best: _Region | None = None
        for s in scopes:
            if s.start <= line <= s.end and (
                best is None or s.end - s.start < best.end - best.start
            ):
                best = s
        return best

    return find


# tree-sitter grammars (the optional `grammars` extra): LSP language id -> (module,
# function returning the language, node types that make a reviewable scope).
_JS_SCOPES = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "method_definition",
        "class_declaration",
        "abstract_class_declaration",
        "interface_declaration",
        "arrow_function",
        "function_expression",
    }
)
_GRAMMARS: dict[str, tuple[str, str, frozenset[str]]] = {
    "javascript": ("tree_sitter_javascript", "language", _JS_SCOPES),
    "javascriptreact": ("tree_sitter_javascript", "language", _JS_SCOPES),
    "typescript": ("tree_sitter_typescript", "language_typescript", _JS_SCOPES),
    "typescriptreact": ("tree_sitter_typescript", "language_tsx", _JS_SCOPES),
    "go": (
        "tree_sitter_go",
        "language",
        frozenset({"function_declaration", "method_declaration", "type_declaration"}),
    ),
    "rust": (
        "tree_sitter_rust",
        "language",
        frozenset(
            {"function_item", "impl_item", "struct_item", "enum_item", "trait_item", "mod_item"}
        ),
    ),
    "java": (
        "tree_sitter_java",
        "language",
        frozenset(
            {
                "method_declaration",
                "constructor_declaration",
                "class_declaration",
                "interface_declaration",
                "enum_declaration",
                "record_declaration",
            }
        ),
    ),
}


def has_grammar(language: str) -> bool:
    return _tree_sitter_parser(language) is not None


def _tree_sitter_parser(language: str) -> tuple[Any, frozenset[str]] | None:
    spec = _GRAMMARS.get(language)
    if spec is None:
        return None
    module_name, function, kinds = spec
    try:
        import importlib

        import tree_sitter

        grammar = getattr(importlib.import_module(module_name), function)()
        return tree_sitter.Parser(tree_sitter.Language(grammar)), kinds
    except Exception:  # not installed, or a grammar built for another tree-sitter ABI
        return None


def _tree_sitter_scopes(language: str, text: str) -> Enclosing | None:
    found = _tree_sitter_parser(language)
    if found is None:
        return None
    parser, kinds = found
    try:
        tree = parser.parse(text.encode("utf-8", "surrogateescape"))
    except Exception:
        return None
    root = tree.root_node
    lines = text.splitlines()

    def find(line: int) -> _Region | None:
        row = line - 1
        column = len(lines[row]) - len(lines[row].lstrip()) if row < len(lines) else 0
        node = root.descendant_for_point_range((row, column), (row, column))
        while node is not None:
            if node.type in kinds:
                name = node.child_by_field_name("name")
                label = (
                    name.text.decode("utf-8", "replace") if name is not None and name.text else ""
                )
                kind = node.type.replace("_", " ")
                return _Region(
                    node.start_point[0] + 1, node.end_point[0] + 1, f"{kind} {label}".strip()
                )
            node = node.parent
        return None

    return find


def _region_for(hunk: tuple[int, int], enclosing: Enclosing | None, n_lines: int) -> _Region:
    a, b = hunk
    if enclosing is not None:
        first, last = enclosing(a), enclosing(b)
        if first is not None and last is not None:
            start, end = min(a, first.start), max(b, last.end)
            if end - start + 1 <= MAX_REGION_LINES:
                scope = first.scope if first == last else f"{first.scope} .. {last.scope}"
                return _Region(start, end, scope)
    start, end = max(a - WINDOW, 1), min(b + WINDOW, n_lines)
    return _Region(start, end, f"lines {start}-{end}")


def max_unit_chars(token_limit: int) -> int:
    return int(token_limit * CHARS_PER_TOKEN)


def _prefix(lines: Sequence[str]) -> list[int]:
    out = [0]
    for line in lines:
        out.append(out[-1] + len(line))
    return out


def make_units(
    path: str,
    language: str,
    text: str,
    changed: Iterable[int],
    *,
    token_limit: int = 6000,
) -> list[Unit]:
    lines = text.splitlines(keepends=True) or [""]
    n_lines = len(lines)
    changed_set = frozenset(n for n in changed if 1 <= n <= n_lines)
    if not changed_set:
        return []
    limit = max_unit_chars(token_limit)
    prefix = _prefix(lines)

    def size(start: int, end: int) -> int:
        return prefix[end] - prefix[start - 1]

    enclosing: Enclosing | None = None
    if language == "python":
        scopes = _python_scopes(text)
        enclosing = _enclosing_in(scopes) if scopes is not None else None
    else:
        enclosing = _tree_sitter_scopes(language, text)
    regions = sorted(
        (_region_for(h, enclosing, n_lines) for h in runs(changed_set)), key=lambda r: r.start
    )
    merged: list[_Region] = []
    for region in regions:
        if merged:
            last = merged[-1]
            close = region.start <= last.end + BATCH_GAP
            start, end = last.start, max(last.end, region.end)
            if close and size(start, end) <= limit:
                scope = (
                    last.scope if region.scope == last.scope else f"{last.scope}; {region.scope}"
                )
                merged[-1] = _Region(start, end, scope)
                continue
        merged.append(region)
    pieces: list[_Region] = []
    for region in merged:
        pieces.extend(_split(region, lines, limit, size(region.start, region.end)))
    units: list[Unit] = []
    for r in pieces:
        inside = frozenset(n for n in changed_set if r.start <= n <= r.end)
        if not inside:
            continue
        before_start = max(r.start - CONTEXT_LINES, 1)
        units.append(
            Unit(
                path=path,
                language=language,
                start_line=r.start,
                end_line=r.end,
                changed=inside,
                code="".join(lines[r.start - 1 : r.end]),
                context_before="".join(lines[before_start - 1 : r.start - 1]),
                context_after="".join(lines[r.end : r.end + CONTEXT_LINES]),
                scope=r.scope,
            )
        )
    return units


def _split(region: _Region, lines: Sequence[str], limit: int, total: int) -> list[_Region]:
    """Cut a region that is over the limit into consecutive pieces under it.

    A single line longer than the limit is cut off by the piece boundary anyway: it is
    sent alone, and the engine's redaction and the provider's limits still apply.
    """
    if total <= limit:
        return [region]
    out: list[_Region] = []
    start, size = region.start, 0
    for n in range(region.start, region.end + 1):
        length = len(lines[n - 1])
        if size and size + length > limit:
            out.append(_Region(start, n - 1, f"{region.scope} (part {len(out) + 1})"))
            start, size = n, 0
        size += length
    out.append(_Region(start, region.end, f"{region.scope} (part {len(out) + 1})"))
    return out


INSTRUCTIONS_TOKENS = 2048  # instructions, framing and line-number prefixes


def code_budget(budget: int, windows: Sequence[int | None], reads: int) -> int:
    """Tokens of code a model may be sent: `budget` (the run's cap), and for each
    window it has (its context_length less its own answer, its max_input_tokens) what
    is left after `reads` (the answers it reads besides the code) and the instructions,
    with a fifth held back for how rough a token estimate from characters is."""
    limit = budget
    for window in windows:
        if window is None:
            continue
        room = window - reads - INSTRUCTIONS_TOKENS
        limit = min(limit, max(math.floor(room * 0.8), 256))
    return limit


def token_limit_for(
    context_lengths: Sequence[int | None],
    max_output_tokens: Sequence[int | None],
    budget: int,
    pool_size: int,
) -> int:
    """Tokens of code one unit may carry when every model must read it whole.

    The judge reads the code and every pool answer, so the smallest context window
    must hold the code, the answers (`max_tokens` each, 2048 when unset) and the
    instructions; `budget` is the per-model cap the user set.
    """
    outputs = sum((m or 2048) for m in max_output_tokens[:pool_size])
    return code_budget(budget, context_lengths, outputs)


def split_unit(unit: Unit, token_limit: int) -> list[Unit]:
    """`unit` cut into consecutive pieces of at most `token_limit` tokens of code, for a
    model whose window it does not fit; pieces without a changed line are left out (they
    are context the other models saw whole)."""
    limit = max_unit_chars(token_limit)
    if len(unit.code) <= limit:
        return [unit]
    lines = unit.code.splitlines(keepends=True)
    before = unit.context_before.splitlines(keepends=True)
    after = unit.context_after.splitlines(keepends=True)
    whole = [""] * (unit.start_line - 1) + lines  # indexed by file line - 1

    def text(a: int, b: int) -> str:  # file lines a..b of the unit and its context
        out = []
        for n in range(a, b + 1):
            if unit.start_line <= n <= unit.end_line:
                out.append(whole[n - 1])
            elif n < unit.start_line and unit.start_line - n <= len(before):
                out.append(before[len(before) - (unit.start_line - n)])
            elif n > unit.end_line and n - unit.end_line <= len(after):
                out.append(after[n - unit.end_line - 1])
        return "".join(out)

    region = _Region(unit.start_line, unit.end_line, unit.scope)
    pieces: list[Unit] = []
    for r in _split(region, whole, limit, len(unit.code)):
        inside = frozenset(n for n in unit.changed if r.start <= n <= r.end)
        if not inside:
            continue
        pieces.append(
            Unit(
                path=unit.path,
                language=unit.language,
                start_line=r.start,
                end_line=r.end,
                changed=inside,
                code=text(r.start, r.end),
                context_before=text(r.start - CONTEXT_LINES, r.start - 1),
                context_after=text(r.end + 1, r.end + CONTEXT_LINES),
                scope=r.scope,
            )
        )
    return pieces
