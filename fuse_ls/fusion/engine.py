"""The fusion engine: ask a pool of models in parallel, then let a judge fuse the answers.

The engine knows nothing of LSP or terminals. It reports progress as `FusionEvent`s to
an observer and returns a `FusionResult`. Cancelling the task that awaits `run` cancels
every model call of that fusion, which closes their HTTP streams at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from attrs import evolve

from fuse_ls.config import Settings
from fuse_ls.core.checks import Verifier
from fuse_ls.core.errors import (
    AllModelsFailed,
    BudgetExceeded,
    FuseError,
    MalformedAnswer,
    ProviderError,
)
from fuse_ls.core.events import (
    FusionEvent,
    FusionFailed,
    FusionFinished,
    FusionStarted,
    JudgeFailed,
    JudgeStarted,
    ModelFailed,
    ModelFinished,
    ModelStarted,
    ModelStreaming,
    Observer,
)
from fuse_ls.core.paths import data_dir
from fuse_ls.core.specs import ModelSpec
from fuse_ls.core.types import (
    CandidateResult,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    FusionPolicy,
    FusionRequest,
    FusionResult,
    JsonSchema,
    JudgeResult,
    Usage,
)
from fuse_ls.fusion import modes, prompts
from fuse_ls.fusion.budget import SpendLedger
from fuse_ls.fusion.findings import parse_findings
from fuse_ls.fusion.jsonparse import parse_json_object
from fuse_ls.fusion.policy import Slot, policy_for, pool_slots
from fuse_ls.fusion.pricing import PriceBook
from fuse_ls.fusion.provider import ChatClient

log = logging.getLogger(__name__)


# Text fields of a FusionRequest that are put into prompts.
_SENT_FIELDS = (
    "code",
    "context_before",
    "context_after",
    "path",
    "intent",
    "blast_radius",
    "instruction",
)


Parser = Callable[[str], CandidateResult]


class FusionEngine:
    """One engine serves many concurrent fusions; it owns the shared HTTP client.

    It is built once per set of endpoints (pool, provider, timeouts, budget): how a
    fusion decides (mode, judge, quorum, debate rounds) travels with each request as its
    `FusionPolicy`, so changing the mode never rebuilds the engine or its connections.
    """

    def __init__(
        self,
        settings: Settings,
        client: ChatClient | None = None,
        *,
        prices: PriceBook | None = None,
        ledger: SpendLedger | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._owns_client = client is None
        self.prices = prices or PriceBook()
        self.client = client or ChatClient(
            timeouts=settings.timeouts,
            retries=settings.retries,
            deny_data_collection=settings.provider.deny_data_collection,
            prices=self.prices,
        )
        self.prices.bind(self.client.list_models)
        self.ledger = ledger or SpendLedger(data_dir(settings.telemetry.data_dir) / "spend")
        self.rng = rng or random.Random()

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> FusionEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- public API ---------------------------------------------------------------

    def slots(self) -> list[Slot]:
        return pool_slots(self.settings)

    def policy(self, request: FusionRequest) -> FusionPolicy:
        """The request's own policy, else the one the engine's settings describe."""
        return request.policy or policy_for(self.settings)

    async def estimate_cost(self, request: FusionRequest) -> float | None:
        """Worst-case USD before any call, from cached `/models` prices; None if unknown."""
        s = self.settings
        policy = self.policy(request)
        judge = policy.judge
        prompt = "".join(m.content for m in prompts.pool_messages(request))
        specs = [slot.spec for slot in self.slots()]
        await asyncio.gather(
            *{self.prices.load(s.endpoint_for(spec)) for spec in [*specs, judge]},
            return_exceptions=True,
        )
        total = 0.0
        pool_outputs = 0
        rounds = 1 + (policy.debate_rounds if policy.mode == "debate" else 0)
        for spec in specs:
            est = self.prices.estimate(
                spec.id, prompt, spec.max_tokens, s.endpoint_for(spec).base_url
            )
            if est is None:
                return None
            total += est * rounds
            pool_outputs += spec.max_tokens or 2048
        judge_prompt = len(prompt) // 3 + pool_outputs  # the judge reads every answer
        est = self.prices.estimate(
            judge.id, judge_prompt, judge.max_tokens, s.endpoint_for(judge).base_url
        )
        if est is None:
            return None
        return total + est

    async def run(
        self,
        request: FusionRequest,
        observer: Observer | None = None,
        fusion_id: str | None = None,
        *,
        verifier: Verifier | None = None,
    ) -> FusionResult:
        """`verifier` (fix tasks): checks each candidate fix before the judge decides and
        the fix that is offered; see fuse_ls/verify."""
        run = _Run(self, request, observer, fusion_id or uuid.uuid4().hex[:12])
        run.verifier = verifier if request.task == "fix" else None
        return await run.execute()


class _Run:
    """The state of one fusion, so concurrent fusions share nothing mutable.

    It is what the modes see of the engine (`modes.FusionRun`).
    """

    def __init__(
        self,
        engine: FusionEngine,
        request: FusionRequest,
        observer: Observer | None,
        fusion_id: str,
    ) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.policy = engine.policy(request)
        self.slots: Sequence[Slot] = engine.slots()
        self.request = request
        self.observer = observer
        self.fusion_id = fusion_id
        self.started = time.perf_counter()
        self.notes: list[str] = []
        self.verifier: Verifier | None = None

    # --- events ---------------------------------------------------------------------

    def note(self, text: str) -> None:
        self.notes.append(text)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def emit(self, event: FusionEvent) -> None:
        if self.observer is None:
            return
        try:
            self.observer(evolve(event, fusion_id=self.fusion_id, elapsed_s=self.elapsed()))
        except Exception:  # an observer must never break a fusion
            log.exception("fusion observer failed")

    # --- the whole fusion -------------------------------------------------------------

    async def execute(self) -> FusionResult:
        self.emit(FusionStarted(request=self.request))
        try:
            result = await self._execute()
        except asyncio.CancelledError:
            self.emit(FusionFailed(message="cancelled"))
            raise
        except FuseError as exc:
            self.emit(FusionFailed(message=str(exc)))
            raise
        self.emit(FusionFinished(result=result))
        return result

    async def _execute(self) -> FusionResult:
        request = self._redacted(self.request)
        estimate = await self._check_budget(request)
        candidates = await self.ask_pool(
            self.slots,
            lambda slot: prompts.pool_messages(request),
            prompts.pool_schema(request.task),
            lambda slot: self._parser(request, slot),
        )
        answered = [c for c in candidates if c.status == "ok"]
        if not answered:
            raise AllModelsFailed([(c.model, c.error or c.status) for c in candidates])
        failed = [c for c in candidates if c.status != "ok"]
        if failed:
            self.notes.append(
                f"{len(answered)}/{len(candidates)} models answered; "
                + "; ".join(f"{c.model}: {c.error}" for c in failed)
            )
        outcome = await modes.fuse(self, request, candidates)
        total = sum((c.usage for c in outcome.candidates), Usage())
        if outcome.judge is not None:
            total = total + outcome.judge.usage
        total_cost = total.cost_usd or 0.0
        self.engine.ledger.add(total_cost)
        return FusionResult(
            task=request.task,
            mode=self.policy.mode,
            answer=outcome.answer,
            findings=tuple(
                evolve(f, id=f"{self.fusion_id}-{i}") for i, f in enumerate(outcome.findings)
            ),
            analysis=outcome.analysis,
            candidates=tuple(outcome.candidates),
            judge=outcome.judge,
            winner=outcome.winner,
            scores=outcome.scores,
            rejected=tuple(outcome.rejected),
            explanation=outcome.explanation,
            estimated_cost_usd=estimate,
            total_cost_usd=total_cost,
            wall_time_s=self.elapsed(),
            notes=tuple(self.notes),
            fusion_id=self.fusion_id,
            checks=tuple(outcome.checks),
            answer_check=outcome.answer_check,
        )

    def _redacted(self, request: FusionRequest) -> FusionRequest:
        """Every text field that leaves the machine, redacted. `build_request` has already
        redacted the whole document before cutting the selection (a private key whose
        BEGIN line is above the selection); this pass covers requests built elsewhere and
        the repository text beside the code (intent, blast radius, path)."""
        if not self.settings.review.redact_secrets:
            return request
        from fuse_ls.telemetry.redact import MARK_PREFIX, redact

        parts: dict[str, Any] = {}
        marked = 0
        for name in _SENT_FIELDS:
            text = getattr(request, name)
            if text:
                cleaned = redact(text)
                if cleaned.counts:
                    parts[name] = cleaned.text
                marked += MARK_PREFIX in cleaned.text
        if marked:
            self.notes.append(
                f"secret-looking text was redacted in {marked} part(s) before sending"
            )
        return evolve(request, **parts) if parts else request

    async def _check_budget(self, request: FusionRequest) -> float | None:
        budget = self.settings.budget
        if budget.max_usd_per_request is None and budget.max_usd_per_day is None:
            return None
        estimate = await self.engine.estimate_cost(request)
        if estimate is None:
            self.notes.append("cost could not be estimated before the call (no prices for a model)")
            return None
        if budget.max_usd_per_request is not None and estimate > budget.max_usd_per_request:
            raise BudgetExceeded(estimate, budget.max_usd_per_request, "per-request")
        if budget.max_usd_per_day is not None:
            spent = self.engine.ledger.spent()
            if spent + estimate > budget.max_usd_per_day:
                raise BudgetExceeded(spent + estimate, budget.max_usd_per_day, "daily")
        return estimate

    # --- calling models ----------------------------------------------------------------

    def _parser(self, request: FusionRequest, slot: Slot) -> Parser:
        def parse(text: str) -> CandidateResult:
            if request.task == "review":
                payload = parse_json_object(text, model=slot.spec.id)
                try:
                    findings = parse_findings(payload, request.start_line, request.end_line)
                except ValueError as exc:
                    raise MalformedAnswer(f"{slot.spec.id}: {exc}", model=slot.spec.id) from None
                return CandidateResult(slot.spec.id, slot.index, "ok", text=text, findings=findings)
            if request.task == "fix":
                payload = parse_json_object(text, model=slot.spec.id)
                replacement = payload.get("replacement")
                if not isinstance(replacement, str):
                    raise MalformedAnswer(
                        f"{slot.spec.id}: the fix has no 'replacement' text", model=slot.spec.id
                    )
                explanation = str(payload.get("explanation") or "")
                return CandidateResult(
                    slot.spec.id, slot.index, "ok", text=replacement, explanation=explanation
                )
            if not text.strip():
                raise MalformedAnswer(f"{slot.spec.id}: empty answer", model=slot.spec.id)
            return CandidateResult(slot.spec.id, slot.index, "ok", text=text)

        return parse

    def chat_request(
        self, spec: ModelSpec, messages: Sequence[ChatMessage], schema: JsonSchema | None
    ) -> ChatRequest:
        return ChatRequest(
            model=spec.id,
            messages=tuple(messages),
            endpoint=self.settings.endpoint_for(spec),
            max_tokens=spec.max_tokens,
            temperature=spec.temperature,
            json_schema=schema,
        )

    async def _ask_one(
        self,
        slot: Slot,
        messages: Sequence[ChatMessage],
        schema: JsonSchema | None,
        parse: Parser,
        round_no: int,
    ) -> CandidateResult:
        spec = slot.spec
        self.emit(ModelStarted(model=spec.id, index=slot.index, round=round_no))
        began = time.perf_counter()

        def first_token() -> None:
            self.emit(ModelStreaming(model=spec.id, index=slot.index, round=round_no))

        response: ChatResponse | None = None
        try:
            response = await self.engine.client.complete(
                self.chat_request(spec, messages, schema), on_first_token=first_token
            )
            parsed = parse(response.text)
            result = evolve(
                parsed,
                latency_s=response.latency_s,
                ttft_s=response.ttft_s,
                usage=response.usage,
            )
        except ProviderError as exc:
            result = CandidateResult(
                spec.id,
                slot.index,
                "error",
                latency_s=time.perf_counter() - began,
                usage=response.usage if response is not None else Usage(),
                error=str(exc),
                error_kind=exc.kind,
                status_code=exc.status_code,
            )
            self.emit(
                ModelFailed(model=spec.id, index=slot.index, candidate=result, round=round_no)
            )
            return result
        self.emit(ModelFinished(model=spec.id, index=slot.index, candidate=result, round=round_no))
        return result

    async def ask_pool(
        self,
        slots: Sequence[Slot],
        messages_for: Callable[[Slot], Sequence[ChatMessage]],
        schema: JsonSchema | None,
        parser_for: Callable[[Slot], Parser],
        round_no: int = 0,
    ) -> list[CandidateResult]:
        """Ask every slot at once; return when the quorum answered or the deadline passed.

        Stragglers are cancelled (their streams close) and reported as `cancelled`.
        """
        loop = asyncio.get_running_loop()
        policy = self.policy
        needed = min(policy.min_responses or len(slots), len(slots))
        deadline = loop.time() + policy.deadline_s
        tasks = {
            asyncio.create_task(
                self._ask_one(slot, messages_for(slot), schema, parser_for(slot), round_no)
            ): slot
            for slot in slots
        }
        results: dict[int, CandidateResult] = {}
        pending = set(tasks)
        ok = 0
        try:
            while pending and ok < needed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                done, pending = await asyncio.wait(
                    pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    result = task.result()
                    results[tasks[task].index] = result
                    ok += result.status == "ok"
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        quorum_met = ok >= needed
        for task in pending:
            slot = tasks[task]
            reason = (
                f"not needed: {needed} of {len(slots)} answered first"
                if quorum_met
                else f"no answer within the {policy.deadline_s:g}s deadline"
            )
            results[slot.index] = CandidateResult(
                slot.spec.id,
                slot.index,
                "cancelled",
                latency_s=self.elapsed(),
                error=reason,
                error_kind="quorum" if quorum_met else "deadline",
            )
            self.emit(
                ModelFailed(
                    model=slot.spec.id,
                    index=slot.index,
                    candidate=results[slot.index],
                    round=round_no,
                )
            )
        return [results[slot.index] for slot in slots]

    async def ask_judge(
        self, messages: Sequence[ChatMessage], schema: JsonSchema, stage: str
    ) -> tuple[JudgeResult, dict[str, Any] | None]:
        """Call the judge; one retry on an unusable answer. Never raises a provider error."""
        spec = self.policy.judge
        self.emit(JudgeStarted(model=spec.id, stage=stage))
        began = time.perf_counter()
        usage = Usage()
        error = ""
        for attempt in range(2):
            try:
                response = await self.engine.client.complete(
                    self.chat_request(spec, messages, schema)
                )
            except MalformedAnswer as exc:
                error = str(exc)
                continue
            except ProviderError as exc:
                error = str(exc)
                break
            usage = usage + response.usage
            try:
                payload = parse_json_object(response.text, model=spec.id)
            except MalformedAnswer as exc:
                error = f"{spec.id}: the judge's answer is not valid JSON ({exc})"
                if attempt == 0:
                    continue
                break
            judge = JudgeResult(spec.id, "ok", latency_s=time.perf_counter() - began, usage=usage)
            return judge, payload
        judge = JudgeResult(
            spec.id, "error", latency_s=time.perf_counter() - began, usage=usage, error=error
        )
        self.emit(JudgeFailed(model=spec.id, judge=judge, message=error))
        self.note(f"judge failed ({error}); fell back to a vote-based result")
        return judge, None

    def shuffled(self, candidates: Sequence[CandidateResult]) -> list[tuple[str, CandidateResult]]:
        """Anonymise: a fresh random order per call, labelled A, B, C..."""
        order = list(candidates)
        self.engine.rng.shuffle(order)
        return [(_label(i), c) for i, c in enumerate(order)]


def _label(i: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[i] if i < len(letters) else f"R{i + 1}"
