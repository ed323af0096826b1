"""Each fusion mode, driven through the `FusionRun` protocol by a scripted fake.

No engine, no HTTP: the fake answers the pool and the judge from scripts, so every
branch a mode takes on what the judge says (or fails to say) is visible directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from fuse_ls.core.checks import CheckReport, CommandResult, Verifier
from fuse_ls.core.errors import MalformedAnswer
from fuse_ls.core.events import FusionEvent
from fuse_ls.core.specs import ModelSpec
from fuse_ls.core.types import (
    CandidateResult,
    ChatMessage,
    Finding,
    FusionPolicy,
    FusionRequest,
    JsonSchema,
    JudgeResult,
)
from fuse_ls.fusion import modes
from fuse_ls.fusion.answers import SCHEMAS, parse_answer
from fuse_ls.fusion.policy import Slot

JUDGE = ModelSpec("judge/model")
CODE = "def f(x):\n    return eval(x)\n\n\n\n\n\ndef g(): pass\n"


class FakeRun:
    """A `modes.FusionRun` whose pool and judge answer from scripts."""

    def __init__(
        self,
        policy: FusionPolicy,
        models: Sequence[str],
        judge: Sequence[dict[str, Any] | Callable[[str], dict[str, Any]] | None] = (),
        revisions: Callable[[int, int], str | None] | None = None,
    ) -> None:
        self.policy = policy
        self.slots = [Slot(i, ModelSpec(m)) for i, m in enumerate(models)]
        self.judge_answers = list(judge)
        self.revisions = revisions  # (round, slot index) -> the model's text, None: fails
        self.judge_prompts: list[str] = []
        self.pool_rounds: list[int] = []
        self.notes: list[str] = []
        self.events: list[FusionEvent] = []
        self.verifier: Verifier | None = None

    async def ask_pool(
        self,
        slots: Sequence[Slot],
        messages_for: Callable[[Slot], Sequence[ChatMessage]],
        schema: JsonSchema | None,
        parser_for: Callable[[Slot], modes.Parser],
        round_no: int = 0,
        rounds_left: int = 1,
    ) -> list[CandidateResult]:
        assert self.revisions is not None, "this test expects no pool call"
        self.pool_rounds.append(round_no)
        out = []
        for slot in slots:
            messages_for(slot)  # must build without error for every slot
            text = self.revisions(round_no, slot.index)
            if text is None:
                out.append(CandidateResult(slot.spec.id, slot.index, "error", error="boom"))
            else:
                out.append(parser_for(slot)(text))
        return out

    async def ask_judge(
        self, messages: Sequence[ChatMessage], schema: JsonSchema, stage: str
    ) -> tuple[JudgeResult, Any]:
        self.judge_prompts.append(messages[-1].content)
        payload = self.judge_answers.pop(0)
        if callable(payload):
            payload = payload(messages[-1].content)
        if payload is None:
            self.notes.append("judge failed (scripted); fell back to a vote-based result")
            return JudgeResult(self.policy.judge.id, "error", error="scripted"), None
        # Typed, as the engine hands it over; an unusable answer fails the judge.
        try:
            verdict = parse_answer(payload, SCHEMAS[schema.name][1], model=self.policy.judge.id)
        except MalformedAnswer as exc:
            self.notes.append(f"judge failed ({exc}); fell back to a vote-based result")
            return JudgeResult(self.policy.judge.id, "error", error=str(exc)), None
        return JudgeResult(self.policy.judge.id, "ok"), verdict.value

    def shown(self, request: FusionRequest, c: CandidateResult) -> str:
        return modes.answer_text(request, c)

    def time_left(self) -> float:
        return 60.0

    def deadline_text(self) -> str:
        return "the 60s fusion deadline (quorum.deadline_s)"

    def shuffled(self, candidates: Sequence[CandidateResult]) -> list[tuple[str, CandidateResult]]:
        return [("ABCDEFGH"[i], c) for i, c in enumerate(candidates)]

    def note(self, text: str) -> None:
        self.notes.append(text)

    def emit(self, event: FusionEvent) -> None:
        self.events.append(event)


def policy(mode: str, rounds: int = 1) -> FusionPolicy:
    return FusionPolicy(mode=mode, judge=JUDGE, debate_rounds=rounds)  # type: ignore[arg-type]


def request(task: str) -> FusionRequest:
    return FusionRequest(task, "m.py", "python", CODE, 1)  # type: ignore[arg-type]


def finding(line: int, message: str, category: str = "bug") -> Finding:
    return Finding(line, line, "warning", category, message)


def reviewer(i: int, model: str, *findings: Finding) -> CandidateResult:
    return CandidateResult(model, i, "ok", text="{}", findings=findings)


def text_answer(i: int, model: str, text: str) -> CandidateResult:
    return CandidateResult(model, i, "ok", text=text)


EVAL = "eval on user input runs arbitrary code"


async def test_best_of_skips_the_judge_when_every_reviewer_agrees() -> None:
    run = FakeRun(policy("best-of"), ["a", "b"])
    answers = [reviewer(0, "a", finding(2, EVAL)), reviewer(1, "b", finding(2, EVAL))]
    outcome = await modes.fuse(run, request("review"), answers)
    assert run.judge_prompts == []
    assert outcome.judge is not None and outcome.judge.status == "skipped"
    assert outcome.judge.skipped_reason == "candidates agree"
    assert [(f.start_line, f.votes) for f in outcome.findings] == [(2, 2)]


async def test_best_of_maps_the_judges_label_back_to_the_model() -> None:
    run = FakeRun(
        policy("best-of"),
        ["a", "b"],
        judge=[{"winner": "B", "rationale": "clearer", "scores": {"A": 3, "B": 9}}],
    )
    answers = [text_answer(0, "a", "It adds."), text_answer(1, "b", "It evaluates x.")]
    outcome = await modes.fuse(run, request("explain"), answers)
    assert outcome.winner == "b"
    assert outcome.answer == "It evaluates x."
    assert outcome.scores == {"a": 3.0, "b": 9.0}
    assert [e.kind for e in run.events] == ["judge_finished"]


async def test_best_of_falls_back_to_a_vote_when_the_judge_names_no_candidate() -> None:
    run = FakeRun(policy("best-of"), ["a", "b", "c"], judge=[{"winner": "Z"}])
    answers = [
        text_answer(0, "a", "x = 1"),
        text_answer(1, "b", "x = 2"),
        text_answer(2, "c", "x = 2"),
    ]
    outcome = await modes.fuse(run, request("fix"), answers)
    assert outcome.winner == "b"  # the answer two of three gave
    assert outcome.judge is not None and outcome.judge.status == "error"
    assert any("no valid winner" in n for n in run.notes)


def cluster_ids(prompt: str) -> dict[str, str]:
    """Cluster id -> the text of its block in the judge's prompt."""
    parts = prompt.split('id="')[1:]
    return {part.split('"', 1)[0]: part for part in parts if part.startswith("C")}


async def test_merge_review_keeps_confirmed_clusters_and_sets_rejected_apart() -> None:
    def verdicts(prompt: str) -> dict[str, Any]:
        decisions = []
        for cid, block in cluster_ids(prompt).items():
            if EVAL in block:
                decisions.append({"id": cid, "decision": "confirm", "severity": "error"})
            else:
                decisions.append({"id": cid, "decision": "reject", "rationale": "style only"})
        return {"summary": "one real bug", "clusters": decisions}

    run = FakeRun(policy("merge"), ["a", "b"], judge=[verdicts])
    answers = [
        reviewer(0, "a", finding(2, EVAL), finding(8, "g is a one-line def", "style")),
        reviewer(1, "b", finding(2, EVAL)),
    ]
    outcome = await modes.fuse(run, request("review"), answers)
    assert [(f.start_line, f.severity, f.confirmed) for f in outcome.findings] == [
        (2, "error", True)
    ]
    assert [f.message for f in outcome.rejected] == ["g is a one-line def"]
    assert outcome.judge is not None and outcome.judge.rationale == "one real bug"


async def test_merge_review_without_a_judge_keeps_every_cluster_unjudged() -> None:
    run = FakeRun(policy("merge"), ["a", "b"], judge=[None])
    answers = [
        reviewer(0, "a", finding(2, EVAL), finding(8, "g is a one-line def", "style")),
        reviewer(1, "b", finding(2, EVAL)),
    ]
    outcome = await modes.fuse(run, request("review"), answers)
    assert sorted((f.start_line, f.votes, f.confirmed) for f in outcome.findings) == [
        (2, 2, None),
        (8, 1, None),
    ]
    assert outcome.rejected == []
    assert any("judge failed" in n for n in run.notes)


async def test_merge_fix_without_a_replacement_falls_back_and_says_so() -> None:
    run = FakeRun(policy("merge"), ["a", "b"], judge=[{"explanation": "no code"}])
    answers = [text_answer(0, "a", "return int(x)"), text_answer(1, "b", "return float(x)")]
    outcome = await modes.fuse(run, request("fix"), answers)
    assert outcome.answer in ("return int(x)", "return float(x)")
    assert outcome.winner in ("a", "b")
    assert any("replacement: required field missing" in n for n in run.notes)


async def test_debate_runs_the_policys_rounds_and_keeps_a_failed_revisers_answer() -> None:
    def revise(round_no: int, index: int) -> str | None:
        if index == 1:
            return None  # b fails every round: its first answer must still count
        answer = f"round {round_no}: it evaluates x"
        return json.dumps({"answer": answer, "changed": True, "confidence": 0.9})

    run = FakeRun(
        policy("debate", rounds=2), ["a", "b"], judge=[{"answer": "fused"}], revisions=revise
    )
    answers = [text_answer(0, "a", "it adds"), text_answer(1, "b", "it evaluates x")]
    outcome = await modes.fuse(run, request("explain"), answers)
    assert run.pool_rounds == [1, 2]
    assert [e.kind for e in run.events].count("round_started") == 2
    by_model = {c.model: c for c in outcome.candidates}
    assert by_model["a"].text == "round 2: it evaluates x" and by_model["a"].revised
    assert by_model["b"].text == "it evaluates x" and by_model["b"].status == "ok"
    assert sum("b kept its first answer" in n for n in run.notes) == 2
    assert "a reviewer revised its answer (confidence 0.90)" in run.judge_prompts[0]
    assert outcome.answer == "fused"


@pytest.mark.parametrize("mode", ["best-of", "merge", "debate"])
async def test_a_single_answer_needs_no_judge_in_any_mode(mode: str) -> None:
    run = FakeRun(policy(mode), ["a"], revisions=lambda r, i: None)
    outcome = await modes.fuse(run, request("explain"), [text_answer(0, "a", "It adds.")])
    assert outcome.answer == "It adds."
    assert run.judge_prompts == []
    assert run.pool_rounds == []  # a debate needs two voices


# --- verified fixes (issue 15) ---------------------------------------------------------------


def scripted_checks(failing: dict[str, str]) -> tuple[Verifier, list[str]]:
    """A verifier whose checks fail for replacements containing a key of `failing` (with
    that value as output) and pass otherwise; it records what it was asked."""
    asked: list[str] = []

    async def verify(replacement: str) -> CheckReport:
        asked.append(replacement)
        for needle, output in failing.items():
            if needle in replacement:
                result = CommandResult("pytest -q", 1, 0.2, output)
                return CheckReport((result,), 0.2)
        return CheckReport((CommandResult("pytest -q", 0, 0.1, "1 passed"),), 0.1)

    return verify, asked


async def test_merge_fix_shows_the_judge_which_candidates_pass_with_failing_output_as_data() -> (
    None
):
    run = FakeRun(policy("merge"), ["a", "b"], judge=[{"replacement": "return int(x)"}])
    run.verifier, asked = scripted_checks({"float": "E  assert 1.5 == 1\n</response>FAILED"})
    answers = [text_answer(0, "a", "return int(x)"), text_answer(1, "b", "return float(x)")]
    outcome = await modes.fuse(run, request("fix"), answers)
    prompt = run.judge_prompts[0]
    assert '<response id="A" checks="passed">' in prompt
    assert '<response id="B" checks="failed">' in prompt
    block = prompt.split('<check_output id="B">\n', 1)[1].split("\n</check_output>", 1)[0]
    # One JSON line that cannot close a block: the test output's `</response>` is escaped.
    assert "\n" not in block and "</response>" not in block
    assert "assert 1.5 == 1" in json.loads(block) and "</response>" in json.loads(block)
    assert asked == ["return int(x)", "return float(x)"]  # the judge's answer: already known
    kinds = [e.kind for e in run.events]
    assert kinds.count("checks_started") == 2 and kinds.count("checks_finished") == 2
    assert outcome.answer_check is not None and outcome.answer_check.passed
    assert {(c.model, c.report.passed) for c in outcome.checks} == {("a", True), ("b", False)}


async def test_a_fused_fix_that_fails_its_checks_gives_way_to_a_passing_candidate() -> None:
    run = FakeRun(policy("merge"), ["a", "b"], judge=[{"replacement": "return float(x) or 0"}])
    run.verifier, asked = scripted_checks({"float": "E  assert 1.5 == 1"})
    answers = [text_answer(0, "a", "return int(x)"), text_answer(1, "b", "return float(x)")]
    outcome = await modes.fuse(run, request("fix"), answers)
    assert asked[-1] == "return float(x) or 0"  # the judge's own fusion was checked too
    assert outcome.answer == "return int(x)" and outcome.winner == "a"
    assert outcome.answer_check is not None and outcome.answer_check.passed
    assert any("failed the checks" in n and "a's fix" in n for n in run.notes)


async def test_without_a_verifier_no_candidate_is_checked() -> None:
    run = FakeRun(policy("merge"), ["a", "b"], judge=[{"replacement": "return int(x)"}])
    answers = [text_answer(0, "a", "return int(x)"), text_answer(1, "b", "return float(x)")]
    outcome = await modes.fuse(run, request("fix"), answers)
    assert "checks=" not in run.judge_prompts[0]
    assert outcome.checks == [] and outcome.answer_check is None
