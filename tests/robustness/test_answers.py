"""Issue 10 item 4: one bad model answer never kills a fusion.

Answers are parsed into typed structures; the schemas sent to models are generated from
them and obey the strict structured-output rules; every bad entry is dropped, counted and
reported in the notes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fuse_ls.emulator import Emulator
from fuse_ls.emulator import answers as emulated
from fuse_ls.emulator.script import parse_script
from fuse_ls.fusion import prompts
from fuse_ls.fusion.answers import (
    MAX_ITEMS,
    SCHEMAS,
    ReviewAnswer,
    parse_answer,
)
from fuse_ls.fusion.engine import FusionEngine
from tests.robustness.support import (
    CODE,
    JUDGE,
    A,
    B,
    cli_env,
    content_fault,
    request,
    run_cli,
    script,
    settings_for,
)

GOOD = {
    "start_line": 2,
    "end_line": 2,
    "severity": "error",
    "category": "security",
    "message": "eval() on user input runs arbitrary code",
    "replacement": None,
}


def _objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    if schema.get("type") == "object" or "object" in schema.get("type", []):
        found.append(schema)
    for value in schema.get("properties", {}).values():
        found += _objects(value)
    if isinstance(schema.get("items"), dict):
        found += _objects(schema["items"])
    return found


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_obeys_the_strict_structured_output_rules(name: str) -> None:
    schema = SCHEMAS[name][0].schema
    jsonschema.Draft202012Validator.check_schema(schema)
    objects = _objects(schema)
    assert objects
    for obj in objects:
        assert obj["additionalProperties"] is False, obj
        assert sorted(obj["required"]) == sorted(obj["properties"]), obj


def test_the_schemas_ask_for_what_was_missing_before() -> None:
    debate = prompts.DEBATE_SCHEMA.schema
    assert "findings" in debate["required"]
    cluster = prompts.CLUSTER_SCHEMA.schema["properties"]["clusters"]["items"]
    assert {"severity", "message"} <= set(cluster["required"])
    # A map with free keys is not allowed in strict mode: scores are a list.
    assert prompts.BEST_OF_SCHEMA.schema["properties"]["scores"]["type"] == "array"


def _prompts_by_schema() -> dict[str, tuple[str, ...]]:
    """A real prompt of every structured call, as the engine builds them."""
    review, fix = request("review"), request("fix")
    findings = json.dumps({"findings": [GOOD]})
    return {
        "review_findings": tuple(m.content for m in prompts.pool_messages(review)),
        "fix_result": tuple(
            m.content for m in prompts.merge_messages(fix, [("A", "x = 1"), ("B", "x = 2")])
        ),
        "best_of_verdict": tuple(
            m.content for m in prompts.best_of_messages(review, [("A", findings), ("B", "{}")])
        ),
        "merge_result": tuple(
            m.content
            for m in prompts.merge_messages(
                request("explain"), [("A", "It runs eval."), ("B", "It loads rows.")]
            )
        ),
        "debate_revision": tuple(
            m.content for m in prompts.debate_messages(review, findings, [("A", findings)], 1)
        ),
        "cluster_verdict": tuple(
            m.content
            for m in prompts.cluster_messages(
                review, [("C1", 2, 3, {"start_line": 2, "end_line": 2, "messages": ["eval"]})]
            )
        ),
    }


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_emulator_answers_every_schema_as_a_strict_provider_would(name: str) -> None:
    """The emulator stands in for real providers in every test: its answers must be
    valid under the schema we send, or the suite would test a protocol nobody speaks."""
    _system, user = _prompts_by_schema()[name]
    answer = json.loads(emulated.answer(parse_script(script()), A, name, user))
    jsonschema.validate(answer, SCHEMAS[name][0].schema)
    parsed = parse_answer(answer, SCHEMAS[name][1], model=A)
    assert parsed.dropped == 0


HOSTILE_FINDINGS: list[tuple[str, Any]] = [
    ("start_line 1e999", {**GOOD, "start_line": 1e999}),
    ("start_line -inf", {**GOOD, "start_line": -1e999}),
    ("negative line", {**GOOD, "start_line": -4, "end_line": -1}),
    ("line zero", {**GOOD, "start_line": 0, "end_line": 0}),
    ("line as words", {**GOOD, "start_line": "two"}),
    ("line as a list", {**GOOD, "start_line": [2]}),
    ("line as a bool", {**GOOD, "start_line": True}),
    ("line 10**40", {**GOOD, "start_line": 10**40}),
    ("fractional line", {**GOOD, "start_line": 2.5}),
    ("end_line NaN", {**GOOD, "end_line": float("nan")}),
    ("message is a list", {**GOOD, "message": ["a", "b"]}),
    ("message is empty", {**GOOD, "message": "   "}),
    ("message missing", {k: v for k, v in GOOD.items() if k != "message"}),
    ("replacement is an object", {**GOOD, "replacement": {"code": "x"}}),
    ("severity is an object", {**GOOD, "severity": {"level": "error"}}),
    ("entry is a string", "eval is bad"),
    ("entry is null", None),
    ("entry is a number", 7),
]


@pytest.mark.parametrize(("what", "entry"), HOSTILE_FINDINGS, ids=[w for w, _ in HOSTILE_FINDINGS])
def test_a_bad_finding_is_dropped_and_counted_the_others_kept(what: str, entry: Any) -> None:
    parsed = parse_answer({"findings": [entry, GOOD]}, ReviewAnswer, model=A)
    assert [f.message for f in parsed.value.findings] == [GOOD["message"]], what
    assert parsed.dropped == 1 and parsed.reasons
    note = parsed.note(A, "findings")
    assert note is not None and note.startswith(f"{A}: ignored 1 unusable findings (")


def test_forgiving_where_it_is_harmless() -> None:
    lax = [
        {"line": "2", "message": "eval runs code", "severity": "CRITICAL"},
        {"start_line": 2.0, "end_line": None, "message": "m", "category": None, "x": 1},
    ]
    parsed = parse_answer({"findings": lax, "extra": True}, ReviewAnswer, model=A)
    assert parsed.dropped == 0
    first, second = parsed.value.findings
    assert (first.start_line, first.end_line, first.severity) == (2, 2, "error")
    assert (second.start_line, second.end_line, second.category) == (2, 2, "general")


def test_huge_answers_are_bounded() -> None:
    many = {"findings": [GOOD] * (MAX_ITEMS + 500)}
    parsed = parse_answer(many, ReviewAnswer, model=A)
    assert len(parsed.value.findings) == MAX_ITEMS and parsed.dropped == 500
    long = {
        "findings": [
            {
                **GOOD,
                "message": "x" * 1_000_000,
                "category": "c" * 10_000,
                "replacement": "y = 1\n" * 100_000,
            }
        ]
    }
    [finding] = parse_answer(long, ReviewAnswer, model=A).value.findings
    assert len(finding.message) <= 2_000 and len(finding.category) <= 64
    assert finding.replacement is None  # never cut code: a runaway replacement is dropped


def test_lone_surrogates_in_an_answer_are_replaced() -> None:
    raw = '{"findings": [{"start_line": 2, "message": "bad \\ud800 char"}]}'
    [finding] = parse_answer(json.loads(raw), ReviewAnswer, model=A).value.findings
    assert finding.message == "bad \ufffd char"
    finding.message.encode("utf-8")


HOSTILE_REVIEW = {"findings": [{**GOOD, "start_line": 1e999}, {**GOOD, "start_line": -3}, GOOD]}


@pytest.mark.parametrize("mode", ["best-of", "merge", "debate"])
def test_one_pool_member_with_bad_lines_does_not_kill_the_review(
    emulator_factory: Any, tmp_path: Path, mode: str
) -> None:
    emu: Emulator = emulator_factory(
        script(**{B: [content_fault(HOSTILE_REVIEW, ["review_findings", "debate_revision"])]})
    )

    async def go() -> Any:
        async with FusionEngine(settings_for(emu, tmp_path, mode)) as engine:
            return await engine.run(request("review"))

    result = asyncio.run(go())
    assert len(result.answered) == 3
    assert any(f.start_line == 2 and f.votes == 3 for f in result.findings)
    [b] = [c for c in result.candidates if c.model == B]
    assert b.dropped == 2 and [f.start_line for f in b.findings] == [2]
    assert any(n.startswith(f"{B}: ignored 2 unusable findings") for n in result.notes)


JUDGE_VERDICTS: list[tuple[str, Any]] = [
    (
        "cluster_verdict",
        {
            "clusters": [
                {"id": "C1", "decision": "confirm", "message": {"text": "x"}, "severity": None},
                {"id": 7, "decision": ["confirm"]},
            ],
            "summary": 1e999,
        },
    ),
    ("best_of_verdict", {"winner": "A", "scores": {"A": 1e999, "B": "NaN"}, "rationale": "r"}),
    ("merge_result", {"answer": "Fused.", "contradictions": [{"topic": "t", "stances": 5}]}),
]


@pytest.mark.parametrize(("schema", "verdict"), JUDGE_VERDICTS, ids=[s for s, _ in JUDGE_VERDICTS])
def test_a_judge_with_bad_entries_never_fails_the_fusion(
    emulator_factory: Any, tmp_path: Path, schema: str, verdict: Any
) -> None:
    emu: Emulator = emulator_factory(script(**{JUDGE: [content_fault(verdict, [schema])]}))
    mode = "best-of" if schema == "best_of_verdict" else "merge"
    task = "explain" if schema == "merge_result" else "review"

    async def go() -> Any:
        async with FusionEngine(settings_for(emu, tmp_path, mode)) as engine:
            return await engine.run(request(task))

    result = asyncio.run(go())
    assert len(result.answered) == 3 and result.judge is not None
    if task == "review":
        assert any(f.start_line == 2 for f in result.findings)
        # Never a Python repr of a model's odd value shown as a message.
        assert not any("{'" in f.message for f in result.findings)
    else:
        assert result.answer == "Fused."
    json.dumps(result.scores, allow_nan=False)  # no inf/NaN reaches JSON output
    assert any(n.startswith(f"judge {JUDGE}: ignored") for n in result.notes)


def test_cli_review_survives_a_1e999_line(emulator_factory: Any, tmp_path: Path) -> None:
    emu: Emulator = emulator_factory(
        script(
            **{
                B: [
                    content_fault(
                        '{"findings":[{"start_line":1e999,"end_line":2,'
                        '"severity":"error","category":"x","message":"boom"}]}'
                    )
                ]
            }
        )
    )
    (tmp_path / "app.py").write_text(CODE)
    done = run_cli(["review", "app.py", "--quiet"], cli_env(emu, tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "eval() on user input" in done.stdout
    assert f"{B}: ignored 1 unusable findings" in done.stdout
