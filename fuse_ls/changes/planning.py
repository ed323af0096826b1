"""Planning a change review: the units to ask and what exactly each model is sent.

For each file: its units (cut to the models' windows), each looked up in the cache by
its key or else given its request, redacted as it may leave the machine, and, for a pool
model whose window the unit does not fit, the messages of each piece it is asked in.
Also the bound of a whole run's cost that is known before any unit is cut.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import evolve

from fuse_ls.changes.cache import ReviewCache
from fuse_ls.changes.cache_entries import (
    from_entry,
    prompt_version,
    redaction_digest,
    settings_fingerprint,
    unit_key,
)
from fuse_ls.changes.types import Target, UnitOutcome
from fuse_ls.changes.units import (
    Unit,
    code_budget,
    format_ranges,
    make_units,
    max_unit_chars,
    split_unit,
)
from fuse_ls.config import Settings
from fuse_ls.core.specs import ModelSpec
from fuse_ls.core.types import ChatMessage, FusionRequest
from fuse_ls.fusion import prompts
from fuse_ls.fusion.policy import pool_slots
from fuse_ls.fusion.pricing import PriceBook, estimate_prompt_tokens

if TYPE_CHECKING:
    from fuse_ls.context import BlastRadii

# What the engine would redact besides the code and its context (those come from the
# file redacted whole): the change review sends nothing else.
_REDACTED_HERE = ("path", "intent", "blast_radius")


def _changed_note(unit: Unit) -> str:
    return _changed_note_for(unit.changed_ranges)


def _changed_note_for(ranges: Sequence[tuple[int, int]]) -> str:
    return (
        f"Changed lines: {format_ranges(ranges)}. Review the change: report "
        "problems in these lines or caused by them; the other lines of the code block are "
        "there so you can judge the change in its context."
    )


def unit_request(
    unit: Unit, intent: str | None, blast: str | None, rules: str | None
) -> FusionRequest:
    instruction = _changed_note(unit) + (f"\n\n{rules}" if rules else "")
    return FusionRequest(
        task="review",
        path=unit.path,
        language=unit.language,
        code=unit.code,
        start_line=unit.start_line,
        context_before=unit.context_before,
        context_after=unit.context_after,
        intent=intent,
        blast_radius=blast,
        instruction=instruction,
    )


@functools.lru_cache(maxsize=256)
def _redacted_text(text: str) -> str:
    from fuse_ls.core.redact import redact

    return redact(text).text


def _with_lines(unit: Unit, lines: Sequence[str]) -> Unit:
    """`unit` with its code and context taken from `lines` (the same file, redacted:
    redaction keeps every line where it was)."""
    before = max(unit.start_line - len(unit.context_before.splitlines(keepends=True)), 1)
    after = len(unit.context_after.splitlines(keepends=True))
    return evolve(
        unit,
        code="".join(lines[unit.start_line - 1 : unit.end_line]),
        context_before="".join(lines[before - 1 : unit.start_line - 1]),
        context_after="".join(lines[unit.end_line : unit.end_line + after]),
    )


class Planner:
    """The units of one run and what each model is asked of them. `requests` and
    `pieces` (by unit key) are what the calls send."""

    def __init__(
        self, settings: Settings, root: Path, cache: ReviewCache | None, unit_token_budget: int
    ) -> None:
        self.settings = settings
        self.root = root
        self.cache = cache
        self.unit_token_budget = unit_token_budget  # tokens of code per unit, per model
        self.requests: dict[str, FusionRequest] = {}  # unit key -> what the models are asked
        # unit key -> pool model -> the messages of each piece it is asked the unit in
        self.pieces: dict[str, dict[str, list[tuple[ChatMessage, ...]]]] = {}
        self._budgets: dict[str, int] = {}  # pool model -> tokens of code it may be sent
        self._settings_part: dict[str, Any] | None = None
        self._prompt_version = ""
        # Asked twice per changed SQL file (the cost bound, then the units), and each
        # file's answer comes from one scan of the models for the whole run.
        self._blast: BlastRadii | None = None

    def blast_radius(self, file: Path) -> str | None:
        if self._blast is None:
            from fuse_ls.context import BlastRadii

            self._blast = BlastRadii(self.root)
        return self._blast(file)

    async def token_limit(self, prices: PriceBook) -> int:
        """Tokens of code per unit; also sets each pool model's own budget.

        A unit is as large as the judge (which reads it whole, with every answer) and the
        roomiest pool model allow; a pool model with a smaller window or
        `max_input_tokens` is asked the unit in pieces that fit it. The windows come
        from the price list (`/models`, saved on disk), not from an engine: a rerun
        whose units are all cached builds none.
        """
        s = self.settings
        specs = [slot.spec for slot in pool_slots(s)]
        await asyncio.gather(
            *{prices.load(s.endpoint_for(spec)) for spec in [*specs, s.judge]},
            return_exceptions=True,
        )

        def windows(spec: ModelSpec) -> list[int | None]:
            info = prices.price_for(spec.id, s.endpoint_for(spec).base_url)
            context = info.context_length if info is not None else None
            own = spec.max_tokens or 2048
            return [context - own if context else None, spec.max_input_tokens]

        answers = sum((spec.max_tokens or 2048) for spec in specs)
        budget = self.unit_token_budget
        judge = code_budget(budget, windows(s.judge), answers)
        debate = s.mode == "debate"  # debaters read every answer too
        self._budgets = {
            spec.id: code_budget(budget, windows(spec), answers if debate else 0) for spec in specs
        }
        return min(judge, max(self._budgets.values(), default=budget))

    def pieces_for(
        self, unit: Unit, intent: str | None, blast: str | None, rules: str | None
    ) -> tuple[dict[str, list[tuple[ChatMessage, ...]]], list[str]]:
        """The pool models this unit does not fit, with the messages of each piece."""
        size = estimate_prompt_tokens(unit.code)
        pieces: dict[str, list[tuple[ChatMessage, ...]]] = {}
        notes: list[str] = []
        for model, budget in self._budgets.items():
            if size <= budget or model in pieces:
                continue
            parts = split_unit(unit, budget)
            pieces[model] = [
                prompts.pool_messages(self.sent(unit_request(p, intent, blast, rules)))
                for p in parts
            ]
            notes.append(
                f"{model} was asked lines {unit.start_line}-{unit.end_line} in "
                f"{len(parts)} part(s): about {size} tokens of code, over its budget of "
                f"{budget} (its context window or max_input_tokens)"
            )
        return pieces, notes

    @staticmethod
    def _marked(request: FusionRequest) -> int:
        from fuse_ls.core.redact import MARK_PREFIX

        fields = ("code", "context_before", "context_after", *_REDACTED_HERE)
        return sum(MARK_PREFIX in (getattr(request, name) or "") for name in fields)

    def sent(self, request: FusionRequest) -> FusionRequest:
        """`request` as it may leave the machine: the code and its context come from the
        redacted file; the path, intent and blast radius (the same for every unit of a
        file, so redacted once) are redacted here. The instruction is ours (the changed
        lines) plus the project rules, which `noise.rules_instruction` redacted."""
        if not self.settings.review.redact_secrets:
            return request
        parts: dict[str, Any] = {
            name: _redacted_text(text)
            for name in _REDACTED_HERE
            if (text := getattr(request, name))
        }
        return evolve(request, **parts)

    def plan_target(self, target: Target, token_limit: int, rules: str | None) -> list[UnitOutcome]:
        """One file's units, each loaded from the cache or carrying its request.

        Units are cut from the file as it is and looked up by that text (with the
        redaction rules' digest in the key, the redacted text follows from it): a unit
        found in the cache costs no redaction. The file is redacted, whole, only when
        one of its units is asked, so a secret that starts above a unit (a private key's
        BEGIN line) is still recognised.
        """
        from fuse_ls.context import find_intent, redacted_document

        if self._settings_part is None:
            self._settings_part = settings_fingerprint(self.settings)
            if self.settings.review.redact_secrets:
                self._settings_part["redaction_rules"] = redaction_digest()
            self._prompt_version = prompt_version()
        units = make_units(
            target.path, target.language, target.text, target.changed, token_limit=token_limit
        )
        if not units:
            return []
        intent = find_intent(target.file, self.root)
        blast = self.blast_radius(target.file)
        redacted: list[str] | None = None
        out: list[UnitOutcome] = []
        for unit in units:
            split = self._split_counts(unit)
            key = unit_key(
                unit, intent, blast, rules, self._settings_part, self._prompt_version, split
            )
            hit = self.cache.get(key) if self.cache is not None else None
            loaded = from_entry(unit, key, hit) if hit is not None else None
            if loaded is not None:
                out.append(loaded)
                continue
            sent = unit
            if self.settings.review.redact_secrets:
                if redacted is None:
                    redacted = redacted_document(target.text).splitlines(keepends=True)
                sent = _with_lines(unit, redacted)
            outcome = UnitOutcome(unit, key)
            self.requests[key] = self.sent(unit_request(sent, intent, blast, rules))
            self.pieces[key], outcome.notes = self.pieces_for(sent, intent, blast, rules)
            marked = self._marked(self.requests[key])
            if marked:  # the engine's note, for the pass done here instead
                outcome.notes.append(
                    f"secret-looking text was redacted in {marked} part(s) before sending"
                )
            out.append(outcome)
        return out

    def _split_counts(self, unit: Unit) -> dict[str, int]:
        """Pool models asked this unit in pieces, and in how many."""
        size = estimate_prompt_tokens(unit.code)
        return {
            model: len(split_unit(unit, budget))
            for model, budget in self._budgets.items()
            if size > budget
        }

    async def fits(
        self,
        engine: Any,
        targets: Sequence[Target],
        rules: str | None,
        limit: float | None,
        token_limit: int,
    ) -> bool:
        """Whether the run surely stays within `limit`, judged before any unit is cut.

        A file's units are disjoint pieces of it plus a few context lines each, and the
        estimate is linear in the prompt's length, so the file's cost is at most the
        estimate for the whole file plus one request's fixed part (with context lines)
        per further unit. A file has at most one unit per changed run of lines, plus the
        pieces a too-large region is cut into. 10% on top covers redaction marks.
        """
        if limit is None:
            return True
        from fuse_ls.changes.units import CONTEXT_LINES, runs
        from fuse_ls.context import find_intent

        piece_chars = max(max_unit_chars(token_limit), 1)
        bound = 0.0
        for target in targets:
            if not target.changed:
                continue
            lines = target.text.splitlines(keepends=True)
            longest = "".join(sorted(lines, key=len)[-2 * CONTEXT_LINES :])
            unit = FusionRequest(
                task="review",
                path=target.path,
                language=target.language,
                code=target.text,
                start_line=1,
                intent=find_intent(target.file, self.root),
                blast_radius=self.blast_radius(target.file),
                instruction=_changed_note_for(runs(target.changed))
                + (f"\n\n{rules}" if rules else ""),
            )
            whole = await engine.estimate_cost(unit)
            fixed = await engine.estimate_cost(evolve(unit, code="\n", context_before=longest))
            if whole is None or fixed is None:
                return True  # no prices: the budget is checked as the units finish
            # Cut pieces are over half the limit but for a line too long to join the next.
            pieces = len(runs(target.changed)) + 2 * len(target.text) // piece_chars + 1
            bound += whole + (pieces - 1) * fixed
            if bound * 1.1 > limit:
                return False
        return True
