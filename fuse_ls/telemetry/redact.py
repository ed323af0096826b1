"""Secret redaction for code sent to models and for everything telemetry records.

`redact(text)` is a pure function with no dependency on the rest of fuse-ls: the engine
calls it on code before it leaves the machine (``review.redact_secrets``), the recorder on
everything it writes, and the uploader once more on the whole transcript.

Invariants the callers rely on:

- The number of lines never changes. The engine sends code with line numbers and maps
  findings back to the document, so a replacement keeps every line break it swallows
  (only private-key blocks span lines).
- Replacements look like ``[REDACTED:rule]``. They are never matched again by a later
  rule, so redacting twice is a no-op and the counts are not inflated.
- Regexes are compiled once at import; the patterns are anchored on identifier
  boundaries so that none of them backtracks quadratically on long lines.

The rules are ordered from the most specific (provider key formats) to the most
heuristic (secret-ish names, then entropy), so that an OpenAI key assigned to
``api_key`` is reported as ``openai-key`` rather than as a generic assignment.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Final

from attrs import frozen

__all__ = ["RULES", "RedactionResult", "redact", "shannon_entropy"]


@frozen
class RedactionResult:
    text: str
    counts: dict[str, int]  # rule name -> number of redactions

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def redacted(self) -> bool:
        return bool(self.counts)


MARK_PREFIX: Final = "[REDACTED:"

# Every character str.splitlines() treats as a line boundary, so that the line count the
# engine computes (via splitlines) is preserved exactly.
_LINE_BREAKS: Final = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def shannon_entropy(value: str) -> float:
    """Bits per character of `value` (0.0 for the empty string)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _mark(rule: str, swallowed: str = "") -> str:
    breaks = "".join(_LINE_BREAKS.findall(swallowed)) if swallowed else ""
    return f"{MARK_PREFIX}{rule}]{breaks}"


# --- value heuristics -------------------------------------------------------------------

# Values that are references or placeholders rather than secrets: `${DB_PASS}`, `$TOKEN`,
# `{{ .Values.token }}`, `<your-key-here>`, `%(password)s`, `****`, `xxxx`.
_PLACEHOLDER: Final = re.compile(
    r"""^(?:
        \$\{?[A-Za-z_][A-Za-z0-9_]*\}?    # shell / compose variable
      | \$?\{\{.*\}\}                     # templates, GitHub Actions ${{ secrets.X }}
      | <[^<>]*>                          # <your-key-here>
      | %\([A-Za-z_]+\)s                  # python %-format
      | (.)\1*                            # one character repeated: ****, xxxx
      | (?i:none|null|nil|true|false|undefined|changeme_?later|your[-_ ].*|example.*|dummy)
    )$""",
    re.VERBOSE,
)


def _is_placeholder(value: str) -> bool:
    return MARK_PREFIX in value or _PLACEHOLDER.match(value.strip()) is not None


# UUIDs are identifiers (idempotency keys, primary keys), not secrets, even under `key`.
_UUID: Final = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_ENTROPY_SHAPE: Final = re.compile(r"^[A-Za-z0-9+/=_\-.~]{16,}$")
ENTROPY_THRESHOLD: Final = 3.5  # bits/char; random base64/hex of length 16+ scores ~3.8-5.5


def _looks_random(value: str) -> bool:
    """A token-shaped value with letters and digits and high Shannon entropy.

    Requiring both letters and digits keeps long identifiers (`created_at_desc_index`)
    and words out; requiring 16+ characters keeps short hex ids and ports out.
    """
    if not _ENTROPY_SHAPE.match(value) or _UUID.match(value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    return shannon_entropy(value) >= ENTROPY_THRESHOLD


# --- rules ------------------------------------------------------------------------------

Replacer = Callable[["re.Match[str]"], "str | None"]  # None: leave the match as it is


def _whole(rule: str) -> Replacer:
    def replace(m: re.Match[str]) -> str:
        return _mark(rule, m.group(0))

    return replace


def _group(rule: str, group: str, check: Callable[[str], bool] | None = None) -> Replacer:
    """Replace only `group` (the value), keeping the name and quotes around it."""

    def replace(m: re.Match[str]) -> str | None:
        value = m.group(group)
        if check is not None and not check(value):
            return None
        start, end = m.span(group)
        base = m.start(0)
        whole = m.group(0)
        return whole[: start - base] + _mark(rule, value) + whole[end - base :]

    return replace


# A token must not be glued to a longer identifier on its left (`disk-...`, `task-...`).
_L: Final = r"(?<![A-Za-z0-9_\-])"
_R: Final = r"(?![A-Za-z0-9_\-])"

# Names whose literal value is a secret whatever it looks like. The secret word must end
# the identifier (`db_password`, `OPENAI_API_KEY`, `"client_secret"`), so `token_count`,
# `token_type` and `password_hint` do not qualify.
_STRONG_NAME: Final = (
    r"[A-Za-z0-9_.\-]*?(?:password|passwd|passphrase|pwd|secret|token|api[_\-]?key|"
    r"access[_\-]?key|secret[_\-]?key|private[_\-]?key|auth[_\-]?key|credentials?)"
)
# `.env` names are upper case by convention; requiring it keeps Python keyword arguments
# (`password=password`) out of the unquoted rule.
_ENV_NAME: Final = (
    r"[A-Z0-9_]*?(?:PASSWORD|PASSWD|PASSPHRASE|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|"
    r"SECRET_?KEY|PRIVATE_?KEY|AUTH_?KEY|CREDENTIALS?)"
)
# Names whose value is only a secret when it also looks random (`signing_key`, `salt`).
_WEAK_NAME: Final = r"[A-Za-z0-9_.\-]*?(?:key|salt|signature|auth|cookie|dsn|sid|hmac)"
_NAME_START: Final = r"(?<![A-Za-z0-9_.\-])"
_NAME_END: Final = r"(?![A-Za-z0-9_])"
# `=`, `:`, `:=`, `=>`; the name may itself be quoted (JSON, dict literals) or be a
# subscript (`os.environ["DB_PASSWORD"] = ...`).
_ASSIGN: Final = r"""["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*"""

_QUOTED_VALUE: Final = r"""(?P<q>["'`])(?P<val>[^"'`\r\n]{4,}?)(?P=q)"""
# Unquoted values in code-like positions are references (`password = get_password()`,
# `api_key = os.environ["X"]`, `token: Optional[str]`), so brackets and parens disqualify.
_BARE_VALUE: Final = r"""(?P<val>[^\s"'`#;,()\[\]{}<>]+)"""


def _strong_bare_ok(value: str) -> bool:
    # YAML/INI `password: hunter2` is a secret, `password: str` a type annotation: demand
    # something a plain identifier would not have, or randomness.
    if _is_placeholder(value):
        return False
    if re.fullmatch(r"[A-Za-z_][A-Za-z_.]*", value):
        return _looks_random(value)
    return len(value) >= 4


def _not_placeholder(value: str) -> bool:
    return not _is_placeholder(value)


def _random_not_placeholder(value: str) -> bool:
    return not _is_placeholder(value) and _looks_random(value)


RULES: Final[tuple[tuple[str, re.Pattern[str], Replacer], ...]] = (
    # PEM private keys, also inside string literals with escaped `\n`, and a BEGIN whose
    # END lies outside the selection (redact to the end of the base64 run).
    (
        "private-key",
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"|(?:(?:\r?\n|\\n)[ \t]*[A-Za-z0-9+/=]{16,})*)"
        ),
        _whole("private-key"),
    ),
    (
        "anthropic-key",
        re.compile(_L + r"sk-ant-(?:api|admin|oat|sid)?\d{0,2}-?[A-Za-z0-9_\-]{20,}" + _R),
        _whole("anthropic-key"),
    ),
    (
        "openrouter-key",
        re.compile(_L + r"sk-or-v1-[A-Za-z0-9]{32,}" + _R),
        _whole("openrouter-key"),
    ),
    (
        "openai-key",
        re.compile(
            _L + r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,}|[A-Za-z0-9]{32,})" + _R
        ),
        _whole("openai-key"),
    ),
    (
        "stripe-key",
        re.compile(
            _L + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _R + r"|whsec_[A-Za-z0-9]{24,}"
        ),
        _whole("stripe-key"),
    ),
    (
        "github-token",
        re.compile(_L + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})" + _R),
        _whole("github-token"),
    ),
    (
        "gitlab-token",
        re.compile(_L + r"glpat-[A-Za-z0-9_\-]{20,}" + _R),
        _whole("gitlab-token"),
    ),
    (
        "npm-token",
        re.compile(_L + r"npm_[A-Za-z0-9]{36}" + _R),
        _whole("npm-token"),
    ),
    (
        "sendgrid-key",
        re.compile(_L + r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _R),
        _whole("sendgrid-key"),
    ),
    (
        "twilio-key",
        re.compile(_L + r"SK[0-9a-fA-F]{32}" + _R),
        _whole("twilio-key"),
    ),
    (
        "slack-token",
        re.compile(
            _L
            + r"xox[abposre]-[A-Za-z0-9\-]{10,}"
            + _R
            + r"|https://hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"
        ),
        _whole("slack-token"),
    ),
    ("google-api-key", re.compile(_L + r"AIza[0-9A-Za-z_\-]{35}" + _R), _whole("google-api-key")),
    (
        "aws-access-key-id",
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"),
        _whole("aws-access-key-id"),
    ),
    (
        "aws-secret-key",
        re.compile(
            r"(?i:aws_?secret(?:_?access)?_?key|secret_?access_?key)[\"']?[ \t]*(?::=|=>|=|:)[ \t]*"
            r"[\"']?(?P<val>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        _group("aws-secret-key", "val"),
    ),
    (
        "jwt",
        re.compile(_L + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}" + _R),
        _whole("jwt"),
    ),
    (
        "url-password",
        re.compile(
            r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s/:@'\"\[\]]+:(?P<val>[^\s/@'\"\[\]]+)@"
        ),
        _group("url-password", "val", _not_placeholder),
    ),
    (
        "bearer-token",
        re.compile(r"(?i:\bbearer)[ \t]+(?P<val>[A-Za-z0-9._~+/\-]{20,}=*)"),
        _group("bearer-token", "val", _not_placeholder),
    ),
    # `.env`: `export DB_PASSWORD=hunter2` (no spaces around `=`, at the start of a line)
    (
        "secret-assignment",
        re.compile(
            r"(?m)^[ \t]*(?:export[ \t]+)?" + _ENV_NAME + r"=(?P<val>[^\s'\"#`]+)[ \t]*(?:#.*)?$",
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # `password = "hunter2"`, `"api_key": "..."`, `token := 'x'`, `SECRET_KEY = "..."`
    (
        "secret-assignment",
        re.compile(
            r"(?i)" + _NAME_START + _STRONG_NAME + _NAME_END + _ASSIGN + _QUOTED_VALUE,
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # YAML / INI: `password: hunter2` alone on its line
    (
        "secret-assignment",
        re.compile(
            r"(?im)^[ \t]*-?[ \t]*"
            + _STRONG_NAME
            + _NAME_END
            + r"[ \t]*[:=][ \t]*"
            + _BARE_VALUE
            + r"[ \t]*$",
        ),
        _group("secret-assignment", "val", _strong_bare_ok),
    ),
    # Anything random-looking assigned to a key-ish name: `signing_key = 'f3a9...'`.
    (
        "high-entropy",
        re.compile(
            r"(?i)"
            + _NAME_START
            + r"(?:"
            + _WEAK_NAME
            + r"|"
            + _STRONG_NAME
            + r")"
            + _NAME_END
            + _ASSIGN
            + r"""["'`]?(?P<val>[A-Za-z0-9+/=_\-.~]{16,})""",
        ),
        _group("high-entropy", "val", _random_not_placeholder),
    ),
)


def redact(text: str) -> RedactionResult:
    """Replace secrets in `text` by ``[REDACTED:rule]``; the line count never changes."""
    counts: dict[str, int] = {}
    for rule, pattern, replacer in RULES:
        hits = 0

        def substitute(m: re.Match[str], replacer: Replacer = replacer) -> str:
            nonlocal hits
            out = replacer(m)
            if out is None:
                return m.group(0)
            hits += 1
            return out

        text = pattern.sub(substitute, text)
        if hits:
            counts[rule] = counts.get(rule, 0) + hits
    return RedactionResult(text=text, counts=counts)
