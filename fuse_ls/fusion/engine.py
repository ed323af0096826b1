# Over 500 lines: one fusion run's state (deadline, budget, pool and judge calls) in one class.
"""The fusion engine: ask a pool of models in parallel, then let a judge fuse the answers.

The engine knows nothing of LSP or terminals. It reports progress as `FusionEvent`s to
an observer and returns a `FusionResult`. Cancelling the task that awaits `run` cancels
every model call of that fusion, which closes their HTTP streams at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from attrs import evolve

from fuse_ls.config import Settings
from fuse_ls.core.checks import CheckReport, Verifier
from fuse_ls.core.durations import seconds_text
from fuse_ls.core.errors import (
    AllModelsFailed,
    BudgetExceeded,
    FuseError,
    MalformedAnswer,
    ProviderError,
    named,
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
from fuse_ls.core.hosts import is_loopback
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
from fuse_ls.fusion.answers import (
    SCHEMAS,
    FixAnswer,
    Parsed,
    ReviewAnswer,
    parse_answer,
    review_findings,
)
from fuse_ls.fusion.budget import SpendLedger
from fuse_ls.fusion.jsonparse import parse_json_object
from fuse_ls.fusion.policy import Slot, policy_for, pool_slots
from fuse_ls.fusion.pricing import (
    PriceBook,
    estimate_prompt_tokens,
    names_paid_model,
    unpriced_note,
)
from fuse_ls.fusion.provider import ChatClient
from fuse_ls.safetext import clean, error_text

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

# Output cap per call when a model spec sets no max_tokens: without one a runaway answer
# (5 MB was seen) is paid for and passed on whole. Generous for a review, a fix or an
# explanation; reasoning models that think long may need a higher per-model max_tokens.
DEFAULT_MAX_TOKENS = 4096
# What the judge and other debaters see of one answer, in characters per output token:
# at most the cap, counted the way the budget estimate counts (3.5 chars a token).
PASS_ON_CHARS_PER_TOKEN = 3
# Of the fusion deadline, the share held back for the judge while the pool is awaited.
JUDGE_SHARE = 0.25


def output_cap(spec: ModelSpec) -> int:
    """The max_tokens sent for `spec`: its own, else the default cap."""
    return spec.max_tokens or DEFAULT_MAX_TOKENS


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
        """Worst-case USD before any call, from cached `/models` prices; None if unknown.

        A model its endpoint lists no price for costs nothing when that endpoint is this
        machine (Ollama, llama.cpp, vLLM, the emulator bill nothing), unless its id names
        a model only a paid API serves (a local proxy forwards `openai/gpt-4o`): priced
        from another endpoint's list, else unknown. On any other host its cost is
        unknown, and so is the estimate."""
        s = self.settings
        policy = self.policy(request)
        judge = policy.judge
        prompt = "".join(m.content for m in prompts.pool_messages(request))
        specs = [slot.spec for slot in self.slots()]
        await asyncio.gather(
            *{self.prices.load(s.endpoint_for(spec)) for spec in [*specs, judge]},
            return_exceptions=True,
        )
        base = estimate_prompt_tokens(prompt)
        answers = sum(output_cap(spec) for spec in specs)  # every answer, at its cap
        debate_rounds = policy.debate_rounds if policy.mode == "debate" else 0
        total = 0.0
        for spec in specs:
            first = self._call_estimate(spec, base)
            # A debater reads its own answer and the others' on top of the prompt.
            later = self._call_estimate(spec, base + answers)
            if first is None or later is None:
                return None
            total += first + later * debate_rounds
        cost = self._call_estimate(judge, base + answers)
        if cost is None:
            return None
        return total + 2 * cost  # the judge is asked again once after an unusable answer

    def _call_estimate(self, spec: ModelSpec, prompt_tokens: int) -> float | None:
        base_url = self.settings.endpoint_for(spec).base_url
        cost = self.prices.estimate(spec.id, prompt_tokens, output_cap(spec), base_url)
        if cost is None and is_loopback(base_url) and not names_paid_model(spec.id):
            return 0.0
        return cost

    def unpriced(self, request: FusionRequest | None = None) -> list[str]:
        """The pool and judge models whose cost `estimate_cost` cannot know (a remote
        endpoint lists no price for them), from the prices it loaded."""
        judge = (self.policy(request) if request else policy_for(self.settings)).judge
        specs = [*(slot.spec for slot in self.slots()), judge]
        return sorted({spec.id for spec in specs if self._call_estimate(spec, 0) is None})

    async def run(
        self,
        request: FusionRequest,
        observer: Observer | None = None,
        fusion_id: str | None = None,
        *,
        verifier: Verifier | None = None,
        deadline_at: float | None = None,
    ) -> FusionResult:
        """One fusion, done within its policy's `deadline_s`.

        `verifier` (fix tasks): checks each candidate fix before the judge decides and
        the fix that is offered; see fuse_ls/verify.
        `deadline_at` (event-loop time) lets a caller that runs several fusions, such as
        a change review, hold them all to one deadline: the earlier of the two holds.
        """
        run = _Run(self, request, observer, fusion_id or uuid.uuid4().hex[:12], deadline_at)
        run.verifier = run.outside_deadline(verifier) if request.task == "fix" else None
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
        deadline_at: float | None = None,
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
        self.deadline_at = deadline_at
        self.deadline = math.inf  # event-loop time; set when the fusion starts
        self.window = 0.0  # seconds from the start to the deadline
        self.deadline_from = "quorum.deadline_s"
        self.cut: list[str] = []  # "model (stage)" for every call the deadline cut

    # --- time ---------------------------------------------------------------------------

    def time_left(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    def round_deadline(self, rounds_left: int) -> float:
        """When a pool round must end: the time left, less the judge's share, is split
        evenly between this round and the debate rounds still to come."""
        now = asyncio.get_running_loop().time()
        reserve = min(JUDGE_SHARE * self.window, self.settings.timeouts.request_s)
        return now + max(self.deadline - now - reserve, 0.0) / max(rounds_left, 1)

    def outside_deadline(self, verify: Verifier | None) -> Verifier | None:
        """`verify` with the time its checks take added to the fusion deadline.

        The deadline bounds waiting on models; a check has its own limit (verify.timeout_s),
        and a project's tests may well take longer than the whole deadline: without this,
        the judge that is to read the checks would be cut before it is asked. A caller's
        `deadline_at` still holds: it is a promise to the caller.
        """
        if verify is None:
            return None

        async def checked(text: str) -> CheckReport:
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                return await verify(text)
            finally:
                if self.deadline_from != "the caller's deadline":
                    self.deadline += loop.time() - started

        return checked

    def deadline_text(self) -> str:
        return f"the {seconds_text(self.window)} fusion deadline ({self.deadline_from})"

    def rounds_total(self) -> int:
        if self.policy.mode != "debate":
            return 1
        return 1 + max(1, min(self.policy.debate_rounds, 3))

    def shown(self, request: FusionRequest, c: CandidateResult) -> str:
        """A candidate's answer as the judge and other debaters see it: at most its cap."""
        text = modes.answer_text(request, c)
        spec = next((s.spec for s in self.slots if s.index == c.index), None)
        limit = (output_cap(spec) if spec else DEFAULT_MAX_TOKENS) * PASS_ON_CHARS_PER_TOKEN
        if len(text) <= limit:
            return text
        note = (
            f"{c.model}: the answer was cut from {len(text)} to {limit} characters before "
            "the judge and other models saw it"
        )
        if note not in self.notes:
            self.notes.append(note)
        return text[:limit] + f"\n[... {len(text) - limit} more characters cut]"

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
        now = asyncio.get_running_loop().time()
        self.deadline = now + self.policy.deadline_s
        if self.deadline_at is not None and self.deadline_at < self.deadline:
            self.deadline = self.deadline_at
            self.deadline_from = "the caller's deadline"
        self.window = max(self.deadline - now, 0.0)
        self.request = _clean_request(self.request)
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
            rounds_left=self.rounds_total(),
        )
        answered = [c for c in candidates if c.status == "ok"]
        if not answered:
            raise AllModelsFailed([(c.model, c.error or c.status) for c in candidates])
        failed = [c for c in candidates if c.status != "ok"]
        if failed:
            self.notes.append(
                f"{len(answered)}/{len(candidates)} models answered; "
                + "; ".join(named(c.model, c.error or c.status) for c in failed)
            )
        outcome = await modes.fuse(self, request, candidates)
        if self.cut:
            self.notes.append(f"{self.deadline_text()} cut: {', '.join(self.cut)}")
        total = sum((c.usage for c in outcome.candidates), Usage())
        if outcome.judge is not None:
            total = total + outcome.judge.usage
        total_cost = total.cost_usd or 0.0
        unrecorded = self.engine.ledger.add(total_cost)
        if unrecorded and self.settings.budget.max_usd_per_day is not None:
            self.notes.append(
                f"this run's ${total_cost:.4f} could not be added to the daily spend ledger "
                f"({unrecorded}), so budget.max_usd_per_day does not count it; point "
                "telemetry.data_dir (or FUSE_LS_DATA_DIR) at a writable directory"
            )
        # Votes count the members that answered; every output names the others, telling
        # those the quorum made unnecessary apart from those that failed.
        unneeded = sum(
            c.status == "cancelled" and c.error_kind == "quorum" for c in outcome.candidates
        )
        silent = sum(c.status != "ok" for c in outcome.candidates) - unneeded
        return FusionResult(
            task=request.task,
            mode=self.policy.mode,
            answer=outcome.answer,
            findings=tuple(
                evolve(
                    f,
                    id=f"{self.fusion_id}-{i}",
                    did_not_answer=silent,
                    not_waited_for=unneeded,
                )
                for i, f in enumerate(outcome.findings)
            ),
            analysis=outcome.analysis,
            candidates=tuple(outcome.candidates),
            judge=outcome.judge,
            winner=outcome.winner,
            scores=outcome.scores,
            rejected=tuple(
                evolve(f, did_not_answer=silent, not_waited_for=unneeded) for f in outcome.rejected
            ),
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
        from fuse_ls.core.redact import MARK_PREFIX, redact

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
            caps = [
                f"budget.{name}"
                for name, cap in (
                    ("max_usd_per_request", budget.max_usd_per_request),
                    ("max_usd_per_day", budget.max_usd_per_day),
                )
                if cap is not None
            ]
            self.notes.append(
                unpriced_note(self.engine.unpriced(request), "call")
                + f": {' and '.join(caps)} could not be checked"
            )
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
        model = slot.spec.id

        def parse(text: str) -> CandidateResult:
            if request.task == "review":
                payload = parse_json_object(text, model=model)
                review = parse_answer(payload, ReviewAnswer, model=model)
                findings = review_findings(
                    review.value.findings, request.start_line, request.end_line
                )
                return CandidateResult(
                    model,
                    slot.index,
                    "ok",
                    text=text,
                    findings=findings,
                    dropped=review.dropped,
                    drop_reasons=review.reasons,
                )
            if request.task == "fix":
                fix = parse_answer(parse_json_object(text, model=model), FixAnswer, model=model)
                return CandidateResult(
                    model,
                    slot.index,
                    "ok",
                    text=fix.value.replacement,
                    explanation=fix.value.explanation,
                )
            if not text.strip():
                raise MalformedAnswer(f"{model}: empty answer", model=model)
            return CandidateResult(model, slot.index, "ok", text=text)

        return parse

    def chat_request(
        self, spec: ModelSpec, messages: Sequence[ChatMessage], schema: JsonSchema | None
    ) -> ChatRequest:
        return ChatRequest(
            model=spec.id,
            messages=tuple(messages),
            endpoint=self.settings.endpoint_for(spec),
            max_tokens=output_cap(spec),
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
            try:
                parsed = parse(response.text)
            except MalformedAnswer as exc:
                raise _explain_length(spec, response, exc) from None
            except ProviderError:
                raise
            except Exception as exc:  # a parser bug must cost this answer, never the fusion
                log.exception("parsing the answer of %s failed", spec.id)
                raise MalformedAnswer(
                    f"{spec.id}: the answer could not be used ({error_text(exc)})", model=spec.id
                ) from None
            result = evolve(
                parsed,
                latency_s=response.latency_s,
                ttft_s=response.ttft_s,
                usage=response.usage,
            )
            if result.dropped:
                what = "findings" if self.request.task == "review" else "entries"
                note = Parsed(None, result.dropped, result.drop_reasons).note(spec.id, what)
                if note:
                    self.notes.append(note)
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
        rounds_left: int = 1,
    ) -> list[CandidateResult]:
        """Ask every slot at once; return when the quorum answered or the round's share
        of the fusion deadline passed.

        Stragglers are cancelled (their streams close) and reported as `cancelled`.
        """
        loop = asyncio.get_running_loop()
        policy = self.policy
        needed = min(policy.min_responses or len(slots), len(slots))
        deadline = self.round_deadline(rounds_left)
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
            if quorum_met:
                reason = f"{slot.spec.id}: not needed, {needed} of {len(slots)} answered first"
            else:
                stage = f"debate round {round_no}" if round_no else "pool"
                self.cut.append(f"{slot.spec.id} ({stage})")
                reason = (
                    f"{slot.spec.id}: no answer after {self.elapsed():.1f}s; cut to keep "
                    f"{self.deadline_text()}"
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
    ) -> tuple[JudgeResult, Any]:
        """Call the judge; one retry on an unusable answer. Never raises a provider error.

        The answer comes back typed (the class `schema` was generated from), or None.
        The judge is cut at the fusion deadline.
        """
        spec = self.policy.judge
        answer_type = SCHEMAS[schema.name][1]
        self.emit(JudgeStarted(model=spec.id, stage=stage))
        began = time.perf_counter()
        usage = Usage()
        error = ""
        for attempt in range(2):
            try:
                async with asyncio.timeout_at(self.deadline):
                    response = await self.engine.client.complete(
                        self.chat_request(spec, messages, schema)
                    )
            except TimeoutError:
                self.cut.append(f"{spec.id} (judge)")
                error = f"{spec.id}: no verdict after {self.elapsed():.1f}s; cut to keep " + (
                    self.deadline_text()
                )
                break
            except MalformedAnswer as exc:
                error = str(exc)
                continue
            except ProviderError as exc:
                error = str(exc)
                break
            usage = usage + response.usage
            try:
                payload = parse_json_object(response.text, model=spec.id)
                verdict: Parsed[Any] = parse_answer(payload, answer_type, model=spec.id)
            except MalformedAnswer as exc:
                error = str(_explain_length(spec, response, exc))
                if attempt == 0:
                    continue
                break
            note = verdict.note(f"judge {spec.id}")
            if note:
                self.notes.append(note)
            judge = JudgeResult(spec.id, "ok", latency_s=time.perf_counter() - began, usage=usage)
            return judge, verdict.value
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


def _explain_length(
    spec: ModelSpec, response: ChatResponse, exc: MalformedAnswer
) -> MalformedAnswer:
    """An unusable answer that hit the output cap says so, and what to change."""
    if response.finish_reason != "length":
        return exc
    return MalformedAnswer(
        f"{spec.id}: the answer stopped at the output cap (max_tokens {output_cap(spec)}, "
        "finish_reason=length) before it was complete; raise max_tokens for this model.",
        model=spec.id,
    )


def _clean_request(request: FusionRequest) -> FusionRequest:
    """Text every later step can encode: lone surrogates become U+FFFD."""
    changed: dict[str, Any] = {}
    for name in (
        "path",
        "code",
        "context_before",
        "context_after",
        "intent",
        "blast_radius",
        "instruction",
    ):
        value = getattr(request, name)
        if isinstance(value, str) and clean(value) is not value:
            changed[name] = clean(value)
    return evolve(request, **changed) if changed else request


def _label(i: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[i] if i < len(letters) else f"R{i + 1}"
