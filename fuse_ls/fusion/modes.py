# Over 500 lines: three modes for three tasks share one set of vote and verify fallbacks.
"""The three fusion modes (best-of, merge, debate) for the three tasks (review, explain, fix).

Each function takes the pool's answers and returns an `Outcome`. Judges see anonymous,
shuffled candidates; labels are mapped back to model ids only in the outcome. Whenever
the judge fails, the outcome falls back to what the votes say and a note tells the user.

A mode drives one fusion only through `FusionRun` (ask the pool, ask the judge, shuffle,
note, emit): the engine implements it, and the unit tests drive each mode with a fake.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from attrs import define, evolve, field

from fuse_ls.core.checks import CandidateCheck, CheckReport, Verifier
from fuse_ls.core.events import (
    ChecksFinished,
    ChecksStarted,
    FusionEvent,
    JudgeFinished,
    RoundStarted,
)
from fuse_ls.core.types import (
    Analysis,
    CandidateResult,
    ChatMessage,
    Contradiction,
    FusedFinding,
    FusionPolicy,
    FusionRequest,
    Insight,
    JsonSchema,
    JudgeResult,
    Stance,
)
from fuse_ls.fusion import prompts
from fuse_ls.fusion.answers import (
    BestOfVerdict,
    ClusterVerdicts,
    DebateRevision,
    FixAnswer,
    MergeAnswer,
    parse_answer,
    review_findings,
)
from fuse_ls.fusion.findings import (
    Cluster,
    cluster_findings,
    fuse_clusters,
    severity_rank,
    similarity,
)
from fuse_ls.fusion.jsonparse import parse_json_object
from fuse_ls.fusion.policy import Slot
from fuse_ls.fusion.votes import VotePolicy

Parser = Callable[[str], CandidateResult]


class FusionRun(Protocol):
    """What a mode may do during one fusion."""

    @property
    def policy(self) -> FusionPolicy: ...

    @property
    def slots(self) -> Sequence[Slot]: ...

    @property
    def verifier(self) -> Verifier | None:
        """Fix tasks: tries a replacement in an isolated copy and runs the checks; None
        when the caller verifies nothing. The engine never runs a process itself."""
        ...

    async def ask_pool(
        self,
        slots: Sequence[Slot],
        messages_for: Callable[[Slot], Sequence[ChatMessage]],
        schema: JsonSchema | None,
        parser_for: Callable[[Slot], Parser],
        round_no: int = 0,
        rounds_left: int = 1,
    ) -> list[CandidateResult]:
        """Ask `slots` at once under the policy's quorum and this round's share of the
        fusion deadline (`rounds_left` pool rounds still to come); never raises."""
        ...

    async def ask_judge(
        self, messages: Sequence[ChatMessage], schema: JsonSchema, stage: str
    ) -> tuple[JudgeResult, Any]:
        """The judge's verdict, typed as the answer class of `schema`
        (fuse_ls/fusion/answers.py); None (and a note) when it failed."""
        ...

    def shown(self, request: FusionRequest, c: CandidateResult) -> str:
        """What the judge and other debaters see of an answer (cut to its output cap)."""
        ...

    def time_left(self) -> float:
        """Seconds until the fusion deadline."""
        ...

    def deadline_text(self) -> str:
        """The deadline as the notes name it."""
        ...

    def shuffled(self, candidates: Sequence[CandidateResult]) -> list[tuple[str, CandidateResult]]:
        """Anonymous labels (A, B, ...) in a fresh random order."""
        ...

    def note(self, text: str) -> None:
        """Tell the user about a degradation (shown with the result)."""
        ...

    def emit(self, event: FusionEvent) -> None:
        """Report progress to whoever observes the fusion."""
        ...


@define
class Outcome:
    candidates: list[CandidateResult]
    answer: str | None = None
    findings: list[FusedFinding] = field(factory=list)
    rejected: list[FusedFinding] = field(factory=list)
    analysis: Analysis | None = None
    judge: JudgeResult | None = None
    winner: str | None = None
    scores: dict[str, float] = field(factory=dict)
    explanation: str = ""
    checks: list[CandidateCheck] = field(factory=list)
    answer_check: CheckReport | None = None


async def fuse(
    run: FusionRun, request: FusionRequest, candidates: list[CandidateResult]
) -> Outcome:
    mode = run.policy.mode
    tally = ""
    if mode == "debate":
        candidates, tally = await debate(run, request, candidates)
    answered = [c for c in candidates if c.status == "ok"]
    checks: dict[int, CheckReport] = {}
    if request.task == "fix" and run.verifier is not None and mode != "best-of":
        checks = await _verify_candidates(run, run.verifier, answered)
    if mode == "best-of":
        outcome = await best_of(run, request, answered)
    elif request.task == "review":
        outcome = await review_merge(run, request, answered, tally)
    else:
        outcome = await text_merge(run, request, answered, tally, checks)
    outcome.candidates = candidates
    if request.task == "fix" and run.verifier is not None and outcome.answer is not None:
        await _check_answer(run, run.verifier, answered, checks, outcome)
    # The one place votes become visibility and severity: every output reads the result.
    policy = VotePolicy(min_votes=run.policy.min_votes_for_warning)
    outcome.findings = _by_severity(policy.apply_all(outcome.findings))
    return outcome


# --- helpers --------------------------------------------------------------------------


def answer_text(request: FusionRequest, c: CandidateResult) -> str:
    """What other models and judges are shown of a candidate's answer."""
    if request.task == "review":
        return json.dumps(
            {
                "findings": [
                    {
                        "start_line": f.start_line,
                        "end_line": f.end_line,
                        "severity": f.severity,
                        "category": f.category,
                        "message": f.message,
                        "replacement": f.replacement,
                    }
                    for f in c.findings
                ]
            }
        )
    if request.task == "fix" and c.explanation:
        return json.dumps({"replacement": c.text, "explanation": c.explanation})
    return c.text


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _medoid(candidates: Sequence[CandidateResult]) -> CandidateResult:
    return max(
        candidates, key=lambda c: sum(similarity(c.text, o.text) for o in candidates if o is not c)
    )


# Above this many findings, clustering runs in a worker thread so the server's event loop
# keeps answering the editor (1,000 findings take tens of milliseconds).
_THREAD_ABOVE = 200


async def _clusters(answered: Sequence[CandidateResult]) -> list[Cluster]:
    answers = [(c.index, c.model, c.findings) for c in answered]
    if sum(len(f) for _, _, f in answers) > _THREAD_ABOVE:
        return await asyncio.to_thread(cluster_findings, answers)
    return cluster_findings(answers)


def _by_severity(findings: list[FusedFinding]) -> list[FusedFinding]:
    return sorted(findings, key=lambda f: (severity_rank(f.severity), -f.votes, f.start_line))


def _unanimous(clusters: Sequence[Cluster], answered: int) -> bool:
    return all(len(c.voters) == answered for c in clusters)


# --- best-of --------------------------------------------------------------------------


def _agree(
    request: FusionRequest, answered: Sequence[CandidateResult], clusters: Sequence[Cluster]
) -> bool:
    if len(answered) < 2:
        return True
    if request.task == "review":
        return _unanimous(clusters, len(answered))
    return len({_norm(c.text) for c in answered}) == 1


async def best_of(
    run: FusionRun, request: FusionRequest, answered: list[CandidateResult]
) -> Outcome:
    clusters = await _clusters(answered) if request.task == "review" else []
    if _agree(request, answered, clusters):
        winner = answered[0]
        judge = JudgeResult(run.policy.judge.id, "skipped", skipped_reason="candidates agree")
        return _best_of_outcome(request, answered, winner, clusters, judge, {}, "")
    labelled = run.shuffled(answered)
    messages = prompts.best_of_messages(
        request, [(label, run.shown(request, c)) for label, c in labelled]
    )
    judge, verdict = await run.ask_judge(messages, prompts.BEST_OF_SCHEMA, "best-of")
    by_label = dict(labelled)
    chosen = by_label.get(verdict.winner) if isinstance(verdict, BestOfVerdict) else None
    if verdict is not None and chosen is None:
        judge = evolve(judge, status="error", error="the judge named no valid winner")
        run.note("judge named no valid winner; fell back to a vote-based pick")
    if chosen is None or not isinstance(verdict, BestOfVerdict):
        chosen = _vote_winner(request, answered, clusters)
        return _best_of_outcome(request, answered, chosen, clusters, judge, {}, "")
    run.emit(JudgeFinished(model=judge.model, judge=judge))
    scores: dict[str, float] = {}
    for score in verdict.scores:
        c = by_label.get(score.response)
        if c is not None:
            scores[c.model] = max(scores.get(c.model, float("-inf")), score.score)
    judge = evolve(judge, rationale=verdict.rationale)
    return _best_of_outcome(request, answered, chosen, clusters, judge, scores, verdict.rationale)


def _vote_winner(
    request: FusionRequest, answered: Sequence[CandidateResult], clusters: Sequence[Cluster]
) -> CandidateResult:
    if request.task == "review":
        support = {c.index: 0 for c in answered}
        for cluster in clusters:
            for voter in cluster.voters:
                support[voter] += len(cluster.voters)
        return max(answered, key=lambda c: (support[c.index], -c.index))
    if request.task == "fix":
        counts = Counter(_norm(c.text) for c in answered)
        best, n = counts.most_common(1)[0]
        if n > 1:
            return next(c for c in answered if _norm(c.text) == best)
    return _medoid(answered)


def _best_of_outcome(
    request: FusionRequest,
    answered: Sequence[CandidateResult],
    winner: CandidateResult,
    clusters: Sequence[Cluster],
    judge: JudgeResult,
    scores: dict[str, float],
    rationale: str,
) -> Outcome:
    outcome = Outcome(
        candidates=list(answered),
        judge=judge,
        winner=winner.model,
        scores=scores,
        answer=None if request.task == "review" else winner.text,
        explanation=winner.explanation,
    )
    if request.task == "review":
        pool = len(answered)
        for cluster in clusters:
            own = next((v.finding for v in cluster.votes if v.voter == winner.index), None)
            if own is None:
                continue
            fused = cluster.fuse(
                pool, confirmed=True if judge.status == "ok" else None, rationale=rationale
            )
            # The winning answer is returned untouched: its own wording, lines and fix.
            outcome.findings.append(
                evolve(
                    fused,
                    start_line=own.start_line,
                    end_line=own.end_line,
                    severity=own.severity,
                    category=own.category,
                    message=own.message,
                    replacement=own.replacement,
                )
            )
        outcome.findings = _by_severity(outcome.findings)
    return outcome


# --- merge: reviews ---------------------------------------------------------------------


async def review_merge(
    run: FusionRun, request: FusionRequest, answered: list[CandidateResult], tally: str
) -> Outcome:
    pool = len(answered)
    clusters = await _clusters(answered)
    outcome = Outcome(candidates=list(answered))
    if not clusters or (pool > 1 and _unanimous(clusters, pool)) or pool == 1:
        reason = (
            "no findings"
            if not clusters
            else "only one model answered"
            if pool == 1
            else "every model raised every finding"
        )
        outcome.judge = JudgeResult(run.policy.judge.id, "skipped", skipped_reason=reason)
        outcome.findings = fuse_clusters(clusters, pool)
        return outcome
    ids = {f"C{i + 1}": cluster for i, cluster in enumerate(clusters)}
    messages = prompts.cluster_messages(
        request, [(cid, len(c.voters), pool, c.body()) for cid, c in ids.items()], tally
    )
    judge, verdicts = await run.ask_judge(messages, prompts.CLUSTER_SCHEMA, "review")
    outcome.judge = judge
    if not isinstance(verdicts, ClusterVerdicts):
        outcome.findings = fuse_clusters(clusters, pool)
        return outcome
    run.emit(JudgeFinished(model=judge.model, judge=judge))
    outcome.judge = evolve(judge, rationale=verdicts.summary)
    by_id = {v.id: v for v in verdicts.clusters}
    for cid, cluster in ids.items():
        verdict = by_id.get(cid)
        if verdict is None:
            outcome.findings.append(cluster.fuse(pool))
            continue
        fused = cluster.fuse(
            pool,
            confirmed=verdict.decision == "confirm",
            rationale=verdict.rationale,
            severity=verdict.severity,
            message=verdict.message,
        )
        (outcome.findings if fused.confirmed else outcome.rejected).append(fused)
    outcome.findings = _by_severity(outcome.findings)
    return outcome


# --- verified fixes ------------------------------------------------------------------------


async def _verified(run: FusionRun, verify: Verifier, model: str, text: str) -> CheckReport:
    run.emit(ChecksStarted(model=model))
    report = await verify(text)
    run.emit(ChecksFinished(model=model, report=report))
    return report


async def _verify_candidates(
    run: FusionRun, verify: Verifier, answered: Sequence[CandidateResult]
) -> dict[int, CheckReport]:
    """Each distinct candidate fix's checks, one after another: they share one isolated
    copy, reset between candidates."""
    by_text: dict[str, CheckReport] = {}
    out: dict[int, CheckReport] = {}
    for c in answered:
        key = _norm(c.text)
        if key not in by_text:
            by_text[key] = await _verified(run, verify, c.model, c.text)
        out[c.index] = by_text[key]
    return out


async def _check_answer(
    run: FusionRun,
    verify: Verifier,
    answered: Sequence[CandidateResult],
    checks: dict[int, CheckReport],
    outcome: Outcome,
) -> None:
    """Check the fix that will be offered; a judge's fusion that fails its checks gives way
    to a candidate that passed them."""
    assert outcome.answer is not None
    outcome.checks = [
        CandidateCheck(c.model, c.index, checks[c.index]) for c in answered if c.index in checks
    ]
    key = _norm(outcome.answer)
    report = next(
        (checks[c.index] for c in answered if c.index in checks and _norm(c.text) == key), None
    )
    if report is None:
        report = await _verified(run, verify, outcome.winner or "", outcome.answer)
    outcome.answer_check = report
    if report.passed:
        return
    passing = [c for c in answered if c.index in checks and checks[c.index].passed]
    if not passing:
        return
    counts = Counter(_norm(c.text) for c in passing)
    chosen = next(c for c in passing if _norm(c.text) == counts.most_common(1)[0][0])
    run.note(
        f"the fused fix failed the checks ({report.summary()}); offering {chosen.model}'s "
        "fix instead, which passed them"
    )
    outcome.answer, outcome.explanation = chosen.text, chosen.explanation
    outcome.winner, outcome.answer_check = chosen.model, checks[chosen.index]


# --- merge: explanations and fixes --------------------------------------------------------


async def text_merge(
    run: FusionRun,
    request: FusionRequest,
    answered: list[CandidateResult],
    tally: str,
    checks: dict[int, CheckReport] | None = None,
) -> Outcome:
    outcome = Outcome(candidates=list(answered))
    if len(answered) == 1 or (request.task == "fix" and _agree(request, answered, [])):
        only = answered[0]
        reason = "only one model answered" if len(answered) == 1 else "candidates agree"
        outcome.judge = JudgeResult(run.policy.judge.id, "skipped", skipped_reason=reason)
        outcome.answer, outcome.explanation = only.text, only.explanation
        return outcome
    labelled = run.shuffled(answered)
    by_label = {label: c.model for label, c in labelled}
    messages = prompts.merge_messages(
        request,
        [(label, run.shown(request, c)) for label, c in labelled],
        tally,
        {label: checks[c.index] for label, c in labelled if checks and c.index in checks},
    )
    schema = prompts.FIX_SCHEMA if request.task == "fix" else prompts.MERGE_SCHEMA
    judge, fused = await run.ask_judge(messages, schema, "merge")
    outcome.judge = judge
    key = "replacement" if request.task == "fix" else "answer"
    text = (
        fused.replacement
        if isinstance(fused, FixAnswer)
        else fused.answer
        if isinstance(fused, MergeAnswer)
        else None
    )
    if fused is None or text is None or not text.strip():
        if fused is not None:
            outcome.judge = evolve(judge, status="error", error=f"the judge's answer has no {key}")
            run.note(f"judge answer had no {key}; fell back to a vote-based result")
        fallback = _vote_winner(request, answered, [])
        outcome.answer, outcome.explanation = fallback.text, fallback.explanation
        outcome.winner = fallback.model
        return outcome
    run.emit(JudgeFinished(model=judge.model, judge=judge))
    outcome.answer = text
    if isinstance(fused, FixAnswer):
        outcome.explanation = fused.explanation
    elif isinstance(fused, MergeAnswer):
        outcome.analysis = _analysis(fused, by_label)
    return outcome


def _analysis(merged: MergeAnswer, by_label: dict[str, str]) -> Analysis:
    def model(label: str) -> str:
        return by_label.get(label, label)

    return Analysis(
        consensus=tuple(merged.consensus),
        contradictions=tuple(
            Contradiction(c.topic, tuple(Stance(model(s.response), s.stance) for s in c.stances))
            for c in merged.contradictions
        ),
        unique_insights=tuple(
            Insight(i.insight, model(i.response)) for i in merged.unique_insights
        ),
        blind_spots=tuple(merged.blind_spots),
    )


# --- debate -------------------------------------------------------------------------------


async def debate(
    run: FusionRun, request: FusionRequest, candidates: list[CandidateResult]
) -> tuple[list[CandidateResult], str]:
    """Each model sees the others' anonymous answers and keeps or revises its own."""
    rounds = max(1, min(run.policy.debate_rounds, 3))
    slots = {slot.index: slot for slot in run.slots}
    current = {c.index: c for c in candidates}
    for round_no in range(1, rounds + 1):
        live = [c for c in current.values() if c.status == "ok"]
        if len(live) < 2:
            break
        if run.time_left() <= 0:
            run.note(f"debate round {round_no} skipped: {run.deadline_text()} had passed")
            break
        run.emit(RoundStarted(round=round_no, message=f"debate round {round_no}"))

        def messages_for(slot: Slot, live: list[CandidateResult] = live, r: int = round_no) -> Any:
            own = current[slot.index]
            others = run.shuffled([c for c in live if c.index != slot.index])
            return prompts.debate_messages(
                request,
                run.shown(request, own),
                [(label, run.shown(request, c)) for label, c in others],
                r,
            )

        def parser_for(slot: Slot) -> Any:
            return lambda text: _parse_revision(request, current[slot.index], text)

        revised = await run.ask_pool(
            [slots[c.index] for c in live],
            messages_for,
            prompts.DEBATE_SCHEMA,
            parser_for,
            round_no,
            rounds_left=rounds + 1 - round_no,
        )
        for new in revised:
            old = current[new.index]
            if new.status == "ok":
                current[new.index] = evolve(
                    new,
                    usage=old.usage + new.usage,
                    latency_s=(old.latency_s or 0.0) + (new.latency_s or 0.0),
                    ttft_s=old.ttft_s,
                    revised=old.revised or new.revised,
                )
            else:
                # A model that fails to revise keeps its earlier answer: its vote still counts.
                current[new.index] = evolve(old, usage=old.usage + new.usage)
                why = (new.error or new.status).removeprefix(f"{new.model}: ")
                run.note(
                    f"{new.model} kept its first answer (debate round {round_no} failed: {why})"
                )
    final = [current[c.index] for c in candidates]
    tally = "\n".join(
        f"- a reviewer {'revised' if c.revised else 'kept'} its answer"
        + (f" (confidence {c.confidence:.2f})" if c.confidence is not None else "")
        for c in final
        if c.status == "ok"
    )
    return final, tally


def _parse_revision(request: FusionRequest, old: CandidateResult, text: str) -> CandidateResult:
    payload = parse_json_object(text, model=old.model)
    parsed = parse_answer(payload, DebateRevision, model=old.model)
    revision = parsed.value
    if request.task == "review":
        if revision.findings is None:
            findings = old.findings
        else:
            findings = review_findings(revision.findings, request.start_line, request.end_line)
        return evolve(
            old,
            text=text,
            findings=findings,
            confidence=revision.confidence,
            revised=revision.changed,
            dropped=parsed.dropped,
            drop_reasons=parsed.reasons,
        )
    if not revision.answer.strip():
        return evolve(old, confidence=revision.confidence, revised=False)
    return evolve(
        old, text=revision.answer, confidence=revision.confidence, revised=revision.changed
    )
