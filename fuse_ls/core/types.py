"""Typed values that flow between the provider, the engine, the server and telemetry.

Everything here is an immutable attrs class so results can be shared between the
language server, the recorder and the CLI without defensive copies.
"""

from __future__ import annotations

from typing import Any, Literal

from attrs import field, frozen

from fuse_ls.core.checks import CandidateCheck, CheckReport
from fuse_ls.core.lines import line_count
from fuse_ls.core.specs import ModelSpec
from fuse_ls.core.vocab import MODES as MODES
from fuse_ls.core.vocab import SEVERITIES as SEVERITIES
from fuse_ls.core.vocab import Mode as Mode
from fuse_ls.core.vocab import Severity as Severity
from fuse_ls.core.vocab import Task as Task

CandidateStatus = Literal["ok", "error", "cancelled", "skipped"]


# --- provider level -------------------------------------------------------------------


@frozen
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    # USD as reported by the provider (`usage.cost`) or computed from /models pricing.
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        cost: float | None
        if self.cost_usd is None and other.cost_usd is None:
            cost = None
        else:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=cost,
        )


@frozen
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@frozen
class JsonSchema:
    """A structured-output request: sent as `response_format: {type: json_schema, ...}`."""

    name: str
    schema: dict[str, Any]


@frozen
class Endpoint:
    """Where one model is reached. The key itself is never stored, only the env var name."""

    base_url: str
    api_key_env: str | None = None
    headers: dict[str, str] = field(factory=dict)


@frozen
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    endpoint: Endpoint
    max_tokens: int | None = None
    temperature: float | None = None
    json_schema: JsonSchema | None = None
    stream: bool = True


@frozen
class ChatResponse:
    model: str  # the model that actually answered (OpenRouter may route to a fallback)
    text: str
    usage: Usage
    latency_s: float
    ttft_s: float | None = None
    generation_id: str | None = None
    finish_reason: str | None = None


# --- findings -------------------------------------------------------------------------


@frozen
class Finding:
    """One issue raised by one model. Lines are 1-based and inclusive, in file coordinates."""

    start_line: int
    end_line: int
    severity: Severity
    category: str
    message: str
    replacement: str | None = None  # replaces lines start_line..end_line when applied


def agreement_text(
    votes: int,
    answered: int,
    did_not_answer: int = 0,
    not_waited_for: int = 0,
    *,
    short: bool = False,
    so_far: bool = False,
) -> str:
    """The one wording of a finding's agreement, for every output (diagnostics, tables,
    JSON, SARIF, rdjson): "2/3 models", or "2/3" in a table's votes column (`short`).
    Votes count the members that answered; a bare "2/2" would read as the whole pool
    agreeing when one of three failed, so the others are named. A member that failed
    (error, timeout, deadline cut) "did not answer"; one the quorum made unnecessary was
    "not waited for", which is no failure: "2/2 models; 1 of 3 not waited for",
    "2/2 models; 1 of 4 did not answer, 1 not waited for"."""
    text = f"{votes}/{answered}" if short else f"{votes}/{answered} models"
    asked = answered + did_not_answer + not_waited_for
    if did_not_answer and not_waited_for:
        return (
            f"{text}; {did_not_answer} of {asked} did not answer, {not_waited_for} not waited for"
        )
    if did_not_answer:
        return f"{text}; {did_not_answer} of {asked} did not answer"
    if not_waited_for:
        return f"{text}; {not_waited_for} of {asked} not waited for"
    return f"{text} so far" if so_far else text


@frozen
class FusedFinding:
    """A cluster of findings that several models raised about the same thing."""

    start_line: int
    end_line: int
    severity: Severity
    category: str
    message: str
    votes: int  # how many distinct pool members raised it
    pool_size: int  # how many pool members answered
    models: tuple[str, ...]  # the models behind the votes
    replacement: str | None = None
    # True: the judge confirmed it; False: the judge rejected it (dropped by the engine,
    # kept only in `FusionResult.rejected`); None: no judge verdict (skipped or failed).
    confirmed: bool | None = None
    rationale: str = ""
    related: tuple[tuple[int, int, str], ...] = ()  # other (start, end, message) locations
    id: str = ""  # stable within one fusion: "<fusion_id>-<n>"
    # Pool members asked that gave no answer (failed, timed out, cut by the deadline), and
    # those the engine stopped waiting for once the quorum answered: the pool asked was
    # pool_size + did_not_answer + not_waited_for. Set by the engine for every finding.
    did_not_answer: int = 0
    not_waited_for: int = 0

    @property
    def agreement(self) -> str:
        """The agreement in a message: "2/3 models", "2/2 models; 1 of 3 did not answer"."""
        return agreement_text(self.votes, self.pool_size, self.did_not_answer, self.not_waited_for)

    @property
    def votes_text(self) -> str:
        """The agreement in a table's votes column: "2/3", "2/2; 1 of 3 did not answer"."""
        return agreement_text(
            self.votes, self.pool_size, self.did_not_answer, self.not_waited_for, short=True
        )

    def to_json(self) -> dict[str, Any]:
        """The finding as `--json` prints it. Without `id`: that is per fusion, so a change
        review (whose findings come back from the cache) keys them by fingerprint instead."""
        return {
            "start_line": self.start_line,
            "end_line": self.end_line,
            "severity": self.severity,
            "category": self.category,
            "message": self.message,
            "votes": self.votes,
            "pool_size": self.pool_size,
            "did_not_answer": self.did_not_answer,
            "not_waited_for": self.not_waited_for,
            "agreement": self.agreement,
            "models": list(self.models),
            "confirmed": self.confirmed,
            "rationale": self.rationale,
            "replacement": self.replacement,
        }


# --- analysis (merge / debate) --------------------------------------------------------


@frozen
class Stance:
    model: str
    stance: str


@frozen
class Contradiction:
    topic: str
    stances: tuple[Stance, ...]


@frozen
class Insight:
    insight: str
    model: str


@frozen
class Analysis:
    consensus: tuple[str, ...] = ()
    contradictions: tuple[Contradiction, ...] = ()
    unique_insights: tuple[Insight, ...] = ()
    blind_spots: tuple[str, ...] = ()


# --- results --------------------------------------------------------------------------


@frozen
class CandidateResult:
    model: str
    index: int  # position in the pool (the same model may appear several times)
    status: CandidateStatus
    text: str = ""  # explain: Markdown; fix: the replacement code; review: the raw JSON
    findings: tuple[Finding, ...] = ()
    explanation: str = ""  # fix: why the model changed what it changed
    latency_s: float | None = None
    ttft_s: float | None = None
    usage: Usage = field(factory=Usage)
    error: str | None = None  # human readable, never contains secrets
    error_kind: str | None = None  # e.g. "auth", "credits", "rate_limited", "timeout"
    status_code: int | None = None
    confidence: float | None = None  # debate: the model's confidence in its final answer
    revised: bool = False  # debate: changed its answer after seeing the others
    dropped: int = 0  # entries of the answer that could not be used (bad lines, types...)
    drop_reasons: tuple[str, ...] = ()  # why, most common first

    @property
    def cost_usd(self) -> float | None:
        return self.usage.cost_usd


@frozen
class JudgeResult:
    model: str
    status: CandidateStatus
    latency_s: float | None = None
    usage: Usage = field(factory=Usage)
    rationale: str = ""
    error: str | None = None
    skipped_reason: str | None = None  # e.g. "candidates agree"


@frozen
class FusionResult:
    task: Task
    mode: Mode
    answer: str | None  # explain/fix: the fused text (fix: the replacement code)
    findings: tuple[FusedFinding, ...]  # review: confirmed or unjudged findings, by severity
    analysis: Analysis | None
    candidates: tuple[CandidateResult, ...]
    judge: JudgeResult | None
    winner: str | None = None  # best-of: the winning model id
    scores: dict[str, float] = field(factory=dict)  # best-of: model id -> judge score
    rejected: tuple[FusedFinding, ...] = ()  # review: clusters the judge rejected
    explanation: str = ""  # fix: why the fused rewrite looks as it does
    estimated_cost_usd: float | None = None
    total_cost_usd: float = 0.0
    wall_time_s: float = 0.0
    notes: tuple[str, ...] = ()  # degradations the user should know about
    fusion_id: str = ""
    # fix with a verifier: each candidate's checks (merge/debate) and the final answer's.
    checks: tuple[CandidateCheck, ...] = ()
    answer_check: CheckReport | None = None

    @property
    def answered(self) -> tuple[CandidateResult, ...]:
        return tuple(c for c in self.candidates if c.status == "ok")

    @property
    def failed(self) -> tuple[CandidateResult, ...]:
        return tuple(c for c in self.candidates if c.status in ("error", "cancelled"))


# --- what the engine is asked ---------------------------------------------------------


def _default_judge() -> ModelSpec:
    return ModelSpec("openai/gpt-5-mini")


@frozen
class FusionPolicy:
    """How one fusion decides: part of the request, not of the engine, so one engine
    (one HTTP pool) serves a "debate review" and a "merge review" side by side."""

    mode: Mode = "merge"
    judge: ModelSpec = field(factory=_default_judge)
    min_responses: int | None = None  # None: wait for the whole pool (until the deadline)
    deadline_s: float = 90.0
    debate_rounds: int = 1  # 1..3
    # How votes turn into what the user sees (the review vote/visibility policy).
    min_votes_for_warning: int = 2  # the quorum of fuse_ls/fusion/votes.py (pools of 3+)


@frozen
class FusionRequest:
    task: Task
    path: str  # shown to the models; relative to the workspace where possible
    language: str
    code: str  # the selected lines, exactly as in the document
    start_line: int  # 1-based line of the first selected line in the file
    context_before: str = ""  # surrounding lines, given as context but not reviewed
    context_after: str = ""
    intent: str | None = None  # the stated purpose of the code (e.g. a Rocky sidecar)
    blast_radius: str | None = None  # downstream consumers that a change would touch
    instruction: str | None = None  # optional extra ask from the user ("focus on SQL")
    policy: FusionPolicy | None = None  # None: the engine's settings decide

    @property
    def end_line(self) -> int:
        return self.start_line + max(line_count(self.code), 1) - 1
