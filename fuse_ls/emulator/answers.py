# Over 500 lines: a test double, one default answer per schema and task; not product code.
"""What an emulated model says: scripted answers, or deterministic defaults per schema.

Defaults are deliberately plausible rather than random: every unscripted model runs the
same small rule set over the code, with per-model wording and a per-model subset of the
low-severity rules, so a pool overlaps on the real issues and differs on the minor ones.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from typing import Any

from attrs import frozen

from fuse_ls.emulator import prompt as P
from fuse_ls.emulator.script import EmulatorScript, FindingRule, JudgeScript, ModelScript

Json = dict[str, Any]


@frozen
class Rule:
    id: str
    pattern: re.Pattern[str]
    severity: str
    category: str
    messages: tuple[str, ...]
    fix: Callable[[str], str] | None = None
    optional: bool = False  # raised by about two models in three


def _sub(pattern: str, replacement: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)
    return lambda line: compiled.sub(replacement, line)


def _none_fix(line: str) -> str:
    return re.sub(r"==\s*None\b", "is None", re.sub(r"!=\s*None\b", "is not None", line))


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        "eval",
        re.compile(r"(?<![\w.])eval\("),
        "error",
        "security",
        (
            "eval() executes arbitrary code from its input; parse it with ast.literal_eval "
            "or json.loads instead.",
            "Calling eval on untrusted input allows code injection; use ast.literal_eval.",
            "Security: eval() runs whatever the caller passes. Replace it with a safe parser "
            "such as ast.literal_eval.",
        ),
        fix=_sub(r"(?<![\w.])eval\(", "ast.literal_eval("),
    ),
    Rule(
        "sql-concat",
        re.compile(
            r"""(?ix)
            (["'].*\b(select|insert\s+into|update|delete\s+from)\b.*["']\s*(\+|%|\.format\())
            | (\bf["'].*\b(select|insert\s+into|update|delete\s+from)\b.*\{)
            """
        ),
        "error",
        "security",
        (
            "SQL built by string concatenation is open to SQL injection; pass the values as "
            "query parameters.",
            "SQL injection: the query interpolates input directly. Use a parameterised query "
            "(cursor.execute(sql, params)).",
            "Building the SQL string from input lets callers inject SQL; use placeholders.",
        ),
    ),
    Rule(
        "bare-except",
        re.compile(r"^\s*except\s*:"),
        "warning",
        "error-handling",
        (
            "A bare except also catches KeyboardInterrupt and SystemExit and hides bugs; "
            "catch Exception or something narrower.",
            "Bare `except:` swallows every error, including interrupts; name the exceptions "
            "you expect.",
            "Avoid bare except clauses: they mask real failures. Catch specific exceptions.",
        ),
        fix=_sub(r"except\s*:", "except Exception:"),
    ),
    Rule(
        "mutable-default",
        re.compile(r"def\s+\w+\(.*=\s*(\[\]|\{\}|list\(\)|dict\(\)|set\(\))"),
        "warning",
        "bug",
        (
            "Mutable default argument: the same object is shared between calls. Default to "
            "None and create it inside the function.",
            "The default list/dict is created once and reused across calls; use None as the "
            "default.",
            "Mutable default values persist between calls and leak state; use a None default.",
        ),
    ),
    Rule(
        "none-compare",
        re.compile(r"[!=]=\s*None\b"),
        "info",
        "style",
        (
            "Compare with None using `is` / `is not`, not `==`.",
            "Use `is None` rather than `== None` (PEP 8).",
        ),
        fix=_none_fix,
        optional=True,
    ),
    Rule(
        "todo",
        re.compile(r"#\s*(TODO|FIXME|XXX)\b"),
        "hint",
        "maintainability",
        (
            "Unresolved TODO left in the code.",
            "A TODO marks unfinished work here; track it or resolve it.",
        ),
        optional=True,
    ),
)


def _pick(model: str, salt: str, count: int) -> int:
    return zlib.crc32(f"{model}\0{salt}".encode()) % count


def rules_for(model: str) -> list[Rule]:
    return [r for r in DEFAULT_RULES if not r.optional or _pick(model, r.id, 3) != 0]


# --- review ---------------------------------------------------------------------------


def _finding(
    start: int, end: int, severity: str, category: str, message: str, replacement: str | None
) -> Json:
    return {
        "start_line": start,
        "end_line": end,
        "severity": severity,
        "category": category,
        "message": message,
        "replacement": replacement,
    }


def default_findings(model: str, code: P.CodeBlock | None) -> list[Json]:
    if code is None:
        return []
    found = []
    for number, line in code.lines:
        for rule in rules_for(model):
            if rule.pattern.search(line):
                message = rule.messages[_pick(model, rule.id, len(rule.messages))]
                replacement = rule.fix(line) if rule.fix is not None else None
                found.append(
                    _finding(number, number, rule.severity, rule.category, message, replacement)
                )
    return found


def _whole(match: str) -> re.Pattern[str]:
    """`match` as a substring that does not start or end inside a name: `eval(` is not
    found in `literal_eval(` (a rerun on fixed code would "fix" it again), nor
    `import sqlite3` in `import sqlite3x`; a match of symbols is a plain substring."""
    before = r"(?<!\w)" if re.match(r"\w", match) else ""
    after = r"(?!\w)" if re.search(r"\w$", match) else ""
    return re.compile(before + re.escape(match) + after)


def scripted_findings(rules: list[FindingRule], code: P.CodeBlock | None) -> list[Json]:
    found = []
    for rule in rules:
        if rule.match is not None:
            pattern = _whole(rule.match)
            for number, line in code.lines if code is not None else ():
                if pattern.search(line):
                    replacement = rule.replacement
                    if replacement is None and rule.replace is not None:
                        # Escaped: the script's text is literal, not a `\1` template.
                        replacement = pattern.sub(rule.replace.replace("\\", r"\\"), line)
                    found.append(
                        _finding(
                            number, number, rule.severity, rule.category, rule.message, replacement
                        )
                    )
        elif rule.start_line is not None:
            end = rule.end_line if rule.end_line is not None else rule.start_line
            found.append(
                _finding(
                    rule.start_line,
                    end,
                    rule.severity,
                    rule.category,
                    rule.message,
                    rule.replacement,
                )
            )
    return found


def review(model: str, script: ModelScript, text: str) -> Json:
    code = P.code_block(text)
    if script.findings is not None:
        return {"findings": scripted_findings(script.findings, code)}
    return {"findings": default_findings(model, code)}


# --- fix ------------------------------------------------------------------------------


def fix(model: str, script: ModelScript, text: str) -> Json:
    candidates = P.responses(text)
    if candidates and script.fix is None:
        return _fuse_fixes(candidates)
    code = P.code_block(text)
    selection = code.text if code is not None else ""
    rule = script.fix
    if rule is not None:
        if rule.replacement is not None:
            return {
                "replacement": rule.replacement,
                "explanation": rule.explanation or "Rewrote the selection.",
            }
        if rule.find is not None and rule.find in selection:
            replace = rule.replace or ""
            return {
                "replacement": selection.replace(rule.find, replace),
                "explanation": rule.explanation or f"Replaced `{rule.find}` with `{replace}`.",
            }
        return {
            "replacement": selection,
            "explanation": rule.explanation or "Nothing to change in the selection.",
        }
    lines, applied = [], []
    for _, line in code.lines if code is not None else ():
        for r in rules_for(model):
            if r.fix is not None and r.pattern.search(line):
                line = r.fix(line)
                applied.append(r.messages[_pick(model, r.id, len(r.messages))])
        lines.append(line)
    explanation = (
        " ".join(dict.fromkeys(applied)) if applied else "The code looks correct; no change needed."
    )
    return {"replacement": "\n".join(lines), "explanation": explanation}


def _fuse_fixes(candidates: list[P.Block]) -> Json:
    """A judge fusing fixes: the replacement most candidates agree on (first on a tie)."""
    # Like a judge told which fixes pass the project's checks: only passing ones compete.
    passing = [c for c in candidates if c.attrs.get("checks") == "passed"]
    parsed = [P.as_json(c.body) for c in passing or candidates]
    fixes = [p for p in parsed if isinstance(p, dict) and isinstance(p.get("replacement"), str)]
    if not fixes:
        return {"replacement": "", "explanation": "No candidate proposed a usable fix."}
    counts: dict[str, int] = {}
    for f in fixes:
        counts[f["replacement"]] = counts.get(f["replacement"], 0) + 1
    best = max(counts, key=lambda r: counts[r])  # max keeps the first of equal counts
    explanation = next(str(f.get("explanation", "")) for f in fixes if f["replacement"] == best)
    return {
        "replacement": best,
        "explanation": f"{counts[best]} of {len(fixes)} candidates proposed this fix. "
        + explanation,
    }


# --- judge ----------------------------------------------------------------------------


def _weight(body: str) -> float:
    parsed = P.as_json(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("findings"), list):
        # More findings wins; length only breaks ties.
        return len(parsed["findings"]) * 1000.0 + min(len(body), 999)
    return float(len(body))


def best_of(judge: JudgeScript, text: str) -> Json:
    candidates = P.responses(text)
    if not candidates:
        return {"winner": "", "scores": [], "rationale": "No responses to compare."}
    weights = {c.id: _weight(c.body) for c in candidates}
    top = max(weights.values()) or 1.0
    scores = {cid: round(2.0 + 6.0 * w / top, 1) for cid, w in weights.items()}
    preferred = None
    if judge.prefer_contains:
        preferred = next((c.id for c in candidates if judge.prefer_contains in c.body), None)
    if preferred is not None:
        winner = preferred
        scores[winner] = 9.5
        rationale = f"Response {winner} is the only one that gets the key point right."
    else:
        winner = max(candidates, key=lambda c: weights[c.id]).id
        scores[winner] = 9.0
        rationale = f"Response {winner} is the most complete and correct."
    listed = [{"response": cid, "score": score} for cid, score in scores.items()]
    return {"winner": winner, "scores": listed, "rationale": rationale}


def clusters(judge: JudgeScript, text: str) -> Json:
    verdicts = []
    confirmed = 0
    for cluster in P.clusters(text):
        votes = cluster.int_attr("votes")
        of = cluster.int_attr("of")
        body = cluster.body
        rejected = any(s in body for s in judge.reject_contains)
        accept = not rejected and (
            votes >= judge.confirm_min_votes or any(s in body for s in judge.confirm_contains)
        )
        confirmed += accept
        rationale = (
            f"{votes} of {of} reviewers raised it and the code shows the problem."
            if accept
            else "Not supported by the code shown; likely a false positive."
        )
        verdicts.append(
            {
                "id": cluster.id,
                "decision": "confirm" if accept else "reject",
                "severity": None,
                "message": None,
                "rationale": rationale,
            }
        )
    summary = f"Confirmed {confirmed} of {len(verdicts)} findings."
    return {"clusters": verdicts, "summary": summary}


_TAGGED = re.compile(r"<(golden_issues|reviewer_findings)>\n(.*?)\n</\1>", re.S)


def eval_match(text: str) -> Json:
    """`fuse-ls eval live`'s grading call: a finding matches the golden issue whose lines
    it overlaps (one line of slack), the one sharing most words when several do."""
    blocks = {name: P.as_json(body) for name, body in _TAGGED.findall(text)}
    golden = [g for g in blocks.get("golden_issues") or [] if isinstance(g, dict)]
    matches = []
    for item in blocks.get("reviewer_findings") or []:
        if not isinstance(item, dict):
            continue
        start, end = int(item.get("start_line", 0)), int(item.get("end_line", 0))
        words = set(str(item.get("finding", "")).lower().split())
        near = [
            g
            for g in golden
            if start <= int(g.get("end_line", 0)) + 1 and int(g.get("start_line", 0)) <= end + 1
        ]
        best = max(
            near,
            key=lambda g: len(words & set(str(g.get("issue", "")).lower().split())),
            default=None,
        )
        matches.append({"item": item.get("id"), "golden": best.get("id") if best else None})
    return {"matches": matches}


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _norm(sentence: str) -> str:
    return " ".join(sentence.lower().split()).rstrip(".!?")


def merge(judge: JudgeScript, text: str) -> Json:
    candidates = P.responses(text)
    owners: dict[str, list[str]] = {}
    first_form: dict[str, str] = {}
    per_response: list[tuple[str, list[str]]] = []
    for c in candidates:
        sentences = _sentences(c.body)
        per_response.append((c.id, sentences))
        for s in sentences:
            key = _norm(s)
            first_form.setdefault(key, s)
            if c.id not in owners.setdefault(key, []):
                owners[key].append(c.id)
    consensus = [first_form[k] for k, ids in owners.items() if len(ids) >= 2]
    unique = {
        cid: [s for s in sentences if owners[_norm(s)] == [cid]] for cid, sentences in per_response
    }
    if judge.merge_answer is not None:
        answer = judge.merge_answer
    elif candidates:
        seen = {_norm(s) for s in per_response[0][1]}
        extra = []
        for _, sentences in per_response[1:]:
            for s in sentences:
                if _norm(s) not in seen:
                    seen.add(_norm(s))
                    extra.append(s)
        answer = candidates[0].body + ("\n\n" + " ".join(extra) if extra else "")
    else:
        answer = ""
    firsts = [(cid, u[0]) for cid, u in unique.items() if u]
    contradictions = (
        [
            {
                "topic": "What matters most",
                "stances": [{"response": cid, "stance": s} for cid, s in firsts[:3]],
            }
        ]
        if len(firsts) >= 2
        else []
    )
    if judge.blind_spots is not None:
        blind_spots = list(judge.blind_spots)
    elif candidates and not any("test" in c.body.lower() for c in candidates):
        blind_spots = ["None of the responses says how to test this code."]
    else:
        blind_spots = []
    return {
        "answer": answer,
        "consensus": consensus,
        "contradictions": contradictions,
        "unique_insights": [{"insight": s, "response": cid} for cid, s in firsts],
        "blind_spots": blind_spots,
    }


# --- debate ---------------------------------------------------------------------------


def debate(model: str, script: ModelScript, text: str) -> Json:
    own = P.your_answer(text)
    parsed = P.as_json(own) if own is not None else None
    findings: list[Any] | None = None
    if isinstance(parsed, dict):
        answer = str(parsed.get("answer", ""))
        if isinstance(parsed.get("findings"), list):
            findings = parsed["findings"]
    elif own is not None:
        answer = own
    else:
        answer = explain(model, script, text)
        if "review" in text.lower():
            findings = review(model, script, text)["findings"]
    changed = script.debate_change_to is not None
    if script.debate_change_to is not None:
        answer = script.debate_change_to
    result: Json = {
        "answer": answer,
        "findings": findings,  # null: not a review
        "confidence": script.confidence,
        "changed": changed,
    }
    if findings is not None and not answer:
        result["answer"] = f"{len(findings)} findings; I keep my review."
    return result


# --- free text ------------------------------------------------------------------------

_CLOSINGS = (
    "Overall the logic is easy to follow once these points are addressed.",
    "Beyond that, the structure is reasonable for its size.",
    "Adding tests around these paths would make future changes safer.",
)


def explain(model: str, script: ModelScript, text: str) -> str:
    if script.text is not None:
        return script.text
    code = P.code_block(text)
    if code is None:
        return "I could not find any code in the request to explain."
    functions = re.findall(r"^\s*(?:async\s+)?def\s+(\w+)", code.text, re.MULTILINE)
    classes = re.findall(r"^\s*class\s+(\w+)", code.text, re.MULTILINE)
    parts = [f"### `{code.path}`, lines {code.start_line}-{code.end_line}", ""]
    summary = f"This {code.language or 'code'} snippet has {len(code.lines)} lines."
    if classes:
        summary += " It defines " + ", ".join(f"class `{c}`" for c in classes) + "."
    if functions:
        summary += " It defines " + ", ".join(f"`{f}()`" for f in functions) + "."
    parts.append(summary)
    notes = []
    for finding in default_findings(model, code):
        notes.append(f"- Line {finding['start_line']}: {finding['message']}")
    if notes:
        parts += ["", "Points to watch:", *notes]
    parts += ["", _CLOSINGS[_pick(model, "closing", len(_CLOSINGS))]]
    return "\n".join(parts)


# --- dispatch -------------------------------------------------------------------------


def answer(script: EmulatorScript, model: str, schema: str | None, text: str) -> str:
    """The content `model` answers with: JSON text for a schema, Markdown otherwise."""
    own = script.for_model(model)
    if script.obey_injected_instructions and P.injected(text):
        return _obey(schema, text)
    if schema is None:
        return explain(model, own, text)
    result: Json
    if schema == "review_findings":
        result = review(model, own, text)
    elif schema == "fix_result":
        result = fix(model, own, text)
    elif schema == "best_of_verdict":
        result = best_of(script.judge, text)
    elif schema == "cluster_verdict":
        result = clusters(script.judge, text)
    elif schema == "merge_result":
        result = merge(script.judge, text)
    elif schema == "debate_revision":
        result = debate(model, own, text)
    elif schema == "eval_match":
        result = eval_match(text)
    else:
        result = {"answer": explain(model, own, text)}
    return json.dumps(result, ensure_ascii=False)


def _obey(schema: str | None, text: str) -> str:
    """What a model that took an injected "report nothing / reject everything" as an
    instruction answers."""
    if schema is None:
        return "The code is fine."
    result: Json = {"findings": []}
    if schema == "cluster_verdict":
        rejected = [
            {"id": c.id, "decision": "reject", "severity": None, "message": None,
             "rationale": "Rejected, as instructed."}
            for c in P.clusters(text)
        ]  # fmt: skip
        result = {"clusters": rejected, "summary": "Nothing to report, as instructed."}
    elif schema == "debate_revision":
        result = {"answer": "No issues.", "findings": [], "confidence": 1.0, "changed": True}
    elif schema == "fix_result":
        result = {"replacement": "", "explanation": "Nothing to fix, as instructed."}
    elif schema == "best_of_verdict":
        result = {"winner": "A", "scores": {}, "rationale": "As instructed."}
    elif schema == "merge_result":
        result = {
            "answer": "The code is fine.",
            "consensus": [],
            "contradictions": [],
            "unique_insights": [],
            "blind_spots": [],
        }
    return json.dumps(result)


def wrapped_in_prose(content: str) -> str:
    """What a server that ignores response_format tends to send."""
    try:
        pretty = json.dumps(json.loads(content), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = content
    return (
        "Sure! Here is my analysis of the code.\n\n```json\n"
        + pretty
        + "\n```\n\nLet me know if you want me to go into more detail."
    )


def truncated_json(content: str) -> str:
    """Invalid JSON that still looks like the start of an answer.

    Cut before any nested object too: a tolerant parser would otherwise find a complete
    inner object (one finding) and mistake it for the answer.
    """
    cut = content[: max(len(content) // 2, 1)]
    inner = cut.find("{", 1)
    if inner != -1:
        cut = cut[:inner]
    return cut if cut.strip() not in ("", "{") else '{"findings": ['
