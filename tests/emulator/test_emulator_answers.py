"""What emulated models answer to each prompt shape of docs/prompt-format.md."""

from __future__ import annotations

import json
from typing import Any

from fuse_ls.emulator import demo_script, demo_source_path, parse_script
from fuse_ls.emulator.answers import answer

CODE = (
    '<code path="src/app.py" language="python" start_line="10" end_line="16">\n'
    "10| def load(raw, seen=[]):\n"
    "11|     # TODO: validate\n"
    "12|     try:\n"
    "13|         return eval(raw)\n"
    "14|     except:\n"
    "15|         return seen == None\n"
    '16|     q = "SELECT * FROM t WHERE id = " + raw\n'
    "</code>"
)
POOL = ("anthropic/claude-sonnet-4.5", "openai/gpt-5", "google/gemini-2.5-pro")


def ask(schema: str | None, text: str, model: str = "openai/gpt-5", script: Any = None) -> Any:
    content = answer(parse_script(script), model, schema, text)
    return content if schema is None else json.loads(content)


def numbered(source: str, start: int = 1) -> str:
    lines = source.splitlines()
    body = "\n".join(f"{start + i}| {line}" for i, line in enumerate(lines))
    end = start + len(lines) - 1
    attrs = f'path="orders.py" language="python" start_line="{start}" end_line="{end}"'
    return f"<code {attrs}>\n{body}\n</code>"


def test_default_review_rules() -> None:
    lines = {
        model: {
            (f["start_line"], f["severity"])
            for f in ask("review_findings", CODE, model)["findings"]
        }
        for model in POOL
    }
    core = {(10, "warning"), (13, "error"), (14, "warning"), (16, "error")}
    for found in lines.values():
        assert core <= found
        assert found <= core | {(11, "hint"), (15, "info")}
    eval_finding = next(
        f for f in ask("review_findings", CODE)["findings"] if f["start_line"] == 13
    )
    assert eval_finding["replacement"] == "        return ast.literal_eval(raw)"
    assert eval_finding["category"] == "security"
    # Deterministic: the same model gives the same answer twice.
    assert ask("review_findings", CODE) == ask("review_findings", CODE)


def test_scripted_findings_by_match_and_by_line() -> None:
    script = {
        "models": {
            "*": {
                "findings": [
                    {
                        "match": "eval(",
                        "severity": "error",
                        "category": "security",
                        "message": "no eval",
                        "replace": "ast.literal_eval(",
                    },
                    {"match": "not in the code", "message": "omitted"},
                    {"start_line": 14, "end_line": 15, "severity": "info", "message": "fixed"},
                ]
            }
        }
    }
    findings = ask("review_findings", CODE, script=script)["findings"]
    assert findings == [
        {
            "start_line": 13,
            "end_line": 13,
            "severity": "error",
            "category": "security",
            "message": "no eval",
            "replacement": "        return ast.literal_eval(raw)",
        },
        {
            "start_line": 14,
            "end_line": 15,
            "severity": "info",
            "category": "correctness",
            "message": "fixed",
            "replacement": None,
        },
    ]
    assert ask("review_findings", CODE, script={"models": {"*": {"findings": []}}}) == {
        "findings": []
    }


def test_fix_default_scripted_and_literal() -> None:
    fixed = ask("fix_result", CODE)
    assert "ast.literal_eval(raw)" in fixed["replacement"]
    assert "except Exception:" in fixed["replacement"]
    assert "10|" not in fixed["replacement"]
    assert fixed["explanation"]
    find = {"models": {"*": {"fix": {"find": "eval(raw)", "replace": "json.loads(raw)"}}}}
    assert "json.loads(raw)" in ask("fix_result", CODE, script=find)["replacement"]
    literal = {"models": {"*": {"fix": {"replacement": "pass", "explanation": "why"}}}}
    assert ask("fix_result", CODE, script=literal) == {"replacement": "pass", "explanation": "why"}


def response(rid: str, body: object) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    return f'<response id="{rid}">\n{json.dumps(text)}\n</response>'


def test_judge_fuses_fixes_by_majority() -> None:
    prompt = "\n".join(
        [
            response("A", {"replacement": "x = 1", "explanation": "a"}),
            response("B", {"replacement": "x = 2", "explanation": "b"}),
            response("C", {"replacement": "x = 2", "explanation": "c"}),
        ]
    )
    fused = ask("fix_result", prompt)
    assert fused["replacement"] == "x = 2" and fused["explanation"].startswith("2 of 3")


def test_best_of_verdict() -> None:
    few = {"findings": [{"start_line": 1}]}
    many = {"findings": [{"start_line": 1}, {"start_line": 2}]}
    prompt = CODE + "\n" + "\n".join([response("A", few), response("B", many)])
    verdict = ask("best_of_verdict", prompt)
    scores = {s["response"]: s["score"] for s in verdict["scores"]}
    assert verdict["winner"] == "B" and set(scores) == {"A", "B"}
    assert scores["B"] > scores["A"]
    prose = "\n".join(
        [
            response("A", "short"),
            response("B", "much longer answer"),
            response("C", "magic word"),
        ]
    )
    assert ask("best_of_verdict", prose)["winner"] == "B"
    preferred = ask("best_of_verdict", prose, script={"judge": {"prefer_contains": "magic"}})
    assert preferred["winner"] == "C" and {"response": "C", "score": 9.5} in preferred["scores"]


def cluster(cid: str, votes: int, body: dict[str, Any]) -> str:
    return (
        f'<cluster id="{cid}" votes="{votes}" of="3" lines="1-1">\n{json.dumps(body)}\n</cluster>'
    )


def test_cluster_verdict() -> None:
    prompt = "\n".join(
        [
            cluster("C1", 3, {"messages": ["eval is bad"]}),
            cluster("C2", 1, {"messages": ["fetchone() may return None"]}),
            cluster("C3", 1, {"messages": ["nitpick"]}),
            cluster("C4", 2, {"messages": ["import looks unused"]}),
        ]
    )
    judge = {"judge": {"confirm_contains": ["fetchone()"], "reject_contains": ["looks unused"]}}
    verdict = ask("cluster_verdict", prompt, script=judge)
    decisions = {c["id"]: c["decision"] for c in verdict["clusters"]}
    assert decisions == {"C1": "confirm", "C2": "confirm", "C3": "reject", "C4": "reject"}
    assert verdict["summary"] == "Confirmed 2 of 4 findings."
    strict = ask("cluster_verdict", prompt, script={"judge": {"confirm_min_votes": 3}})
    assert [c["decision"] for c in strict["clusters"]] == ["confirm"] + ["reject"] * 3


def test_merge_result() -> None:
    prompt = "\n".join(
        [
            response("A", "It parses input. It uses eval. Eval is unsafe."),
            response("B", "It parses input. Eval is unsafe. Add a test."),
            response("C", "It parses input. Nothing else."),
        ]
    )
    merged = ask("merge_result", prompt)
    assert merged["answer"].startswith("It parses input. It uses eval.")
    assert "Add a test." in merged["answer"] and "Nothing else." in merged["answer"]
    assert merged["consensus"] == ["It parses input.", "Eval is unsafe."]
    assert {i["response"] for i in merged["unique_insights"]} == {"A", "B", "C"}
    assert merged["contradictions"][0]["stances"][0] == {"response": "A", "stance": "It uses eval."}
    assert merged["blind_spots"] == []  # someone mentioned tests
    scripted = ask(
        "merge_result", prompt, script={"judge": {"merge_answer": "X", "blind_spots": ["Y"]}}
    )
    assert scripted["answer"] == "X" and scripted["blind_spots"] == ["Y"]


def test_debate_revision() -> None:
    own = {"findings": [{"start_line": 13, "message": "eval"}]}
    prompt = f"<your_answer>\n{json.dumps(json.dumps(own))}\n</your_answer>\n" + response(
        "B", {"findings": []}
    )
    kept = ask("debate_revision", prompt, script={"models": {"*": {"confidence": 0.6}}})
    assert kept["findings"] == own["findings"] and kept["changed"] is False
    assert kept["confidence"] == 0.6
    text_prompt = f"<your_answer>\n{json.dumps('My view.')}\n</your_answer>"
    assert ask("debate_revision", text_prompt)["answer"] == "My view."
    changed = ask(
        "debate_revision", text_prompt, script={"models": {"*": {"debate_change_to": "New."}}}
    )
    assert changed == {"answer": "New.", "findings": None, "confidence": 0.8, "changed": True}


def test_free_text() -> None:
    text = ask(None, CODE)
    assert "src/app.py" in text and "`load()`" in text and "Line 13" in text
    assert ask(None, CODE, script={"models": {"*": {"text": "Scripted."}}}) == "Scripted."
    assert ask("something_new", CODE)["answer"].startswith("### `src/app.py`")


def test_code_lines_cannot_close_the_block() -> None:
    tricky = (
        '<code path="a.py" language="python" start_line="1" end_line="2">\n'
        '1| s = "</code>"\n'
        "2| eval(s)\n"
        "</code>"
    )
    assert [f["start_line"] for f in ask("review_findings", tricky)["findings"]] == [2]


def test_demo_pool_votes() -> None:
    script = demo_script()
    prompt = numbered(demo_source_path().read_text())
    votes: dict[int, int] = {}
    for model in POOL:
        for line in {
            f["start_line"] for f in ask("review_findings", prompt, model, script)["findings"]
        }:
            votes[line] = votes.get(line, 0) + 1
    assert sorted(votes.values(), reverse=True)[:2] == [3, 2]
    assert 1 in votes.values()
    assert len(votes) >= 5


def test_a_scripted_match_is_a_whole_name_so_fixed_code_is_not_found_again() -> None:
    """The demo's `eval(raw)` rule, rerun on the code it fixed, proposed
    `ast.literal_ast.literal_eval(raw)`: `eval(` was found inside `literal_eval(`."""
    rule = {"match": "eval(raw)", "message": "no eval", "replace": "ast.literal_eval(raw)"}
    script = {"models": {"*": {"findings": [rule]}}}
    fixed = numbered("def load(raw):\n    return ast.literal_eval(raw)\n")
    assert ask("review_findings", fixed, script=script) == {"findings": []}
    unfixed = numbered("def load(raw):\n    return eval(raw) + x.eval(raw)\n")
    (finding,) = ask("review_findings", unfixed, script=script)["findings"]
    assert finding["replacement"] == "    return ast.literal_eval(raw) + x.ast.literal_eval(raw)"
    # A match ending in a name's letters is a whole name too; one of symbols is a plain substring.
    names = {"models": {"*": {"findings": [{"match": "import sqlite3", "message": "m"}]}}}
    assert ask("review_findings", numbered("import sqlite3x\n"), script=names) == {"findings": []}
    symbols = {"models": {"*": {"findings": [{"match": "+ customer +", "message": "m"}]}}}
    assert ask("review_findings", numbered("q = 'a'+ customer +'b'\n"), script=symbols)["findings"]
