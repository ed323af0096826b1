# Over 500 lines: the ordered rule table (~250 lines of patterns) and `restore` share its marks.
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

import base64
import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Final

from attrs import frozen

from fuse_ls.core.errors import RedactedFix

__all__ = ["RULES", "RedactionResult", "redact", "restore", "shannon_entropy"]


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
      | %s | \?                            # printf / SQL parameters
      | \{[A-Za-z_][A-Za-z0-9_.]*\}        # format fields: password={password}
      | (.)\1*                            # one character repeated: ****, xxxx
      | (?i:none|null|nil|true|false|undefined|changeme_?later|your[-_ ].*|example.*|dummy)
    )$""",
    re.VERBOSE,
)


_MARK: Final = re.compile(r"\[REDACTED:[a-z0-9\-]+\]")

# Keys published in vendors' documentation (AWS's `...EXAMPLE` pair, jwt.io's sample
# token, Stripe's docs test key) are in test fixtures and docs everywhere and are not
# anyone's secret. Kept as SHA-256 digests so this file carries no key-shaped literal.
_DOCUMENTED: Final = frozenset(
    {
        "7f75367e7881255134e1375e723d1dea8ad5f6a4fdb79d938df1f1754a830606",  # jwt.io sample
        "2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326",  # Stripe docs sk
        "b1471f544ceeea31333bde7e1ecbaad6eac0d4a749412ad29bd66ef895b81c6b",  # Stripe docs pk
    }
)


def _documented(value: str) -> bool:
    if "EXAMPLE" in value.upper():
        return True
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest() in _DOCUMENTED


def _is_placeholder(value: str) -> bool:
    """A reference, template or placeholder rather than a secret. A value that is only
    partly redacted (`hunter2-[REDACTED:aws-access-key-id]`) is not: its rest is still
    the secret, so it is redacted whole."""
    residue = _MARK.sub("", value).strip()
    return not residue or _PLACEHOLDER.match(residue) is not None or _documented(residue)


# UUIDs are identifiers (idempotency keys, primary keys), not secrets, even under `key`.
_UUID: Final = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_ENTROPY_SHAPE: Final = re.compile(r"^[A-Za-z0-9+/=_\-.~]{16,}$")
ENTROPY_THRESHOLD: Final = 3.5  # bits/char; random base64/hex of length 16+ scores ~3.8-5.5


def _looks_random(value: str) -> bool:
    """A token-shaped value with letters and digits and high Shannon entropy, or letters
    whose case flips like a random draw's (`_random_letters`).

    Requiring digits keeps long identifiers (`created_at_desc_index`) and words out;
    requiring 16+ characters keeps short hex ids and ports out.
    """
    if _random_letters(value):
        return True
    if not _ENTROPY_SHAPE.match(value) or _UUID.match(value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    return shannon_entropy(value) >= ENTROPY_THRESHOLD


_LETTERS_SHAPE: Final = re.compile(r"^[A-Za-z_\-.~]{12,}$")
_LOWER_RUN: Final = re.compile(r"[a-z]{3,}")


def _random_letters(value: str) -> bool:
    """A generated secret drawn from letters only (`srRaRAxQMTGGLu`): no digit, so the
    entropy rule passes it by. Identifiers have letters only too, but their case changes
    only at word starts (`HTTPSConnectionPool`, `createdAtDescIndex`): a random draw has
    upper case for about half its letters and flips case at about every other letter."""
    if not _LETTERS_SHAPE.match(value):
        return False
    letters = [c for c in value if c.isalpha()]
    if len(letters) < 12:
        return False
    upper = sum(c.isupper() for c in letters) / len(letters)
    flips = sum(a.isupper() != b.isupper() for a, b in itertools.pairwise(letters))
    # Letters inside lower-case runs of 3+ read as words (`SSHCertPublicKeyTypes`: 57%);
    # a random draw has about a quarter of its letters there.
    worded = sum(len(run) for run in _LOWER_RUN.findall("".join(letters))) / len(letters)
    return (
        0.3 <= upper <= 0.7
        and flips >= len(letters) / 3
        and worded < 0.5
        and shannon_entropy(value) >= 3.3
    )


# --- rules ------------------------------------------------------------------------------

Replacer = Callable[["re.Match[str]"], "str | None"]  # None: leave the match as it is


def _whole(rule: str) -> Replacer:
    def replace(m: re.Match[str]) -> str | None:
        return None if _documented(m.group(0)) else _mark(rule, m.group(0))

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
    r"(?:[A-Za-z0-9_.\-]*?(?:password|passwd|passphrase|pwd|secret|token|api[_\-]?key|"
    r"access[_\-]?key|secret[_\-]?key|private[_\-]?key|auth[_\-]?key|credentials?|"
    r"encryption[_\-]?key|signing[_\-]?key|master[_\-]?key|secret[_\-]?key[_\-]?base)"
    # `pass` only as a word of its own (`db_pass`, `dbPass`, `ansible_ssh_pass`), not
    # `bypass` or `compass`.
    r"|(?:[A-Za-z0-9_.\-]*?(?:[_.\-]|(?-i:[a-z0-9](?=P))))?pass)"
)
# `.env` names are upper case by convention; requiring it keeps Python keyword arguments
# (`password=password`) out of the unquoted rule.
_ENV_NAME: Final = (
    r"(?:[A-Z0-9_]*?(?:PASSWORD|PASSWD|PASSPHRASE|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|"
    r"SECRET_?KEY|PRIVATE_?KEY|AUTH_?KEY|CREDENTIALS?|ENCRYPTION_?KEY|SIGNING_?KEY|"
    r"MASTER_?KEY|SECRET_?KEY_?BASE)|(?:[A-Z0-9_]*?_)?PASS)"
)
# Names whose value is only a secret when it also looks random (`signing_key`, `salt`).
_WEAK_NAME: Final = r"[A-Za-z0-9_.\-]*?(?:key|salt|signature|auth|cookie|dsn|sid|hmac)"
_NAME_START: Final = r"(?<![A-Za-z0-9_.\-])"
_NAME_END: Final = r"(?![A-Za-z0-9_])"
# `=`, `:`, `:=`, `=>`; the name may itself be quoted (JSON, dict literals) or be a
# subscript (`os.environ["DB_PASSWORD"] = ...`).
_ASSIGN: Final = r"""["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*"""
# A declared type between the name and `=`: `apiKey: string =` (TypeScript, Kotlin,
# Swift), `PASSWORD: &str =` (Rust), `password string =` (Go `var`).
_TYPED_ASSIGN: Final = (
    r"""(?:[ \t]*:[ \t]*&?(?:'static[ \t]+)?[A-Za-z_][\w.]*(?:<[\w, ]*>)?\??"""
    r"""|[ \t]+[a-z][a-z0-9]*)[ \t]*=[ \t]*"""
)

# A literal wrapped in a conversion is the same literal: Rust `String::from("v")`,
# `Some("v")`, `SecretString::from("v")`, Go `[]byte("v")`, pydantic `SecretStr("v")`. A
# closed list of names (two at most, `Some(String::from(`), so a call that computes the
# value (`input("Password: ")`, `vault.read("db/pw")`) is not taken for one.
_WRAPPED: Final = (
    r"(?:(?:String::from|Some|SecretString::(?:new|from)|Secret::new|SecretStr|\[\]byte)"
    r"[ \t]*\([ \t]*){0,2}"
)
_QUOTED_VALUE: Final = (
    r"""(?:[bBrRuUfF]{1,2}|u8|@|\$@?)?(?P<q>["'`])(?P<val>[^"'`\r\n]{4,}?)(?P=q)"""
)
# Unquoted values in code-like positions are references (`password = get_password()`,
# `api_key = os.environ["X"]`, `token: Optional[str]`), so brackets and parens disqualify.
_BARE_VALUE: Final = r"""(?P<val>[^\s"'`#;,()\[\]{}<>][^\s"'`;,()\[\]{}<>]*)"""


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


# UI text under a secret-ish name (`"forgot_password": "Forgot your password?"`): three
# or more plain words that read as a sentence (capitalised or ending in punctuation). A
# lower-case passphrase (`correct horse battery staple`) is still redacted.
_PROSE: Final = re.compile(r"^(?:[A-Z][a-z']*|[a-z']+)(?: [A-Za-z']+){2,}[.?!:…]?$")


def _not_prose_or_placeholder(value: str) -> bool:
    prose = _PROSE.match(value) is not None and (value[0].isupper() or value[-1] in ".?!:…")
    return not prose and not _is_placeholder(value)


_WORD_PARTS: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _word_parts(identifier: str) -> list[str]:
    return [w.lower() for w in _WORD_PARTS.findall(identifier)]


def _names_its_key(name: str, value: str) -> bool:
    """`data.refresh_token = 'refresh_token'`, `ACCESS_TOKEN = "accessToken"`: the value is
    the key's own name (a field or storage key), in any case or separator style."""
    words = _word_parts(value)
    return bool(words) and words in (_word_parts(name), _word_parts(name.rsplit(".", 1)[-1]))


def _assigned(rule: str) -> Replacer:
    """A literal under a secret name, unless it is prose, a placeholder, the key's own
    name, or a plain word in backticks (Markdown's ``token: `prompt``` names a field). A
    backticked value with digits or symbols, or random letters, is still a secret."""
    inner = _group(rule, "val", _not_prose_or_placeholder)

    def replace(m: re.Match[str]) -> str | None:
        value = m.group("val")
        if _names_its_key(m.group("name"), value):
            return None
        if m.group("q") == "`" and _WORDS.fullmatch(value) and not _looks_random(value):
            return None
        return inner(m)

    return replace


# Beside a secret-ish name, a literal that is only letters (`"Password"`, `"API key:"`,
# `"PypiTokenDetector"`) is a label or an identifier, one with spaces a message, one with
# `{name}` in it an f-string or template built from other values: not a credential.
_WORDS: Final = re.compile(r"[A-Za-z]+(?:[ _\-.][A-Za-z]+)*[:.]?")
_INTERPOLATION: Final = re.compile(r"\{[A-Za-z_][\w.]*\}")


def _credential_like(value: str) -> bool:
    return (
        _not_prose_or_placeholder(value)
        and _WORDS.fullmatch(value) is None
        and not any(c.isspace() for c in value)
        and _INTERPOLATION.search(value) is None
    )


def _random_not_placeholder(value: str) -> bool:
    return not _is_placeholder(value) and _looks_random(value)


def _is_basic_credentials(value: str) -> bool:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        text = decoded.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return ":" in text and text.isprintable()


def _in_string_literal(rule: str) -> Replacer:
    """Redact the value only when the match sits inside a quoted string on its line (or
    follows `;`/`&`/`?`, which only connection strings have): `connect(password=pw)` in
    code is a variable, `"host=db password=pw"` a secret."""
    inner = _group(rule, "val", _not_placeholder)

    def replace(m: re.Match[str]) -> str | None:
        text, start = m.string, m.start()
        line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
        before = text[line_start:start]
        after_separator = start > 0 and text[start - 1] in ";&?"
        quoted = before.count('"') % 2 == 1 or before.count("'") % 2 == 1
        return inner(m) if after_separator or quoted else None

    return replace


def _htpasswd(m: re.Match[str]) -> str | None:
    """`htpasswd -b[c] FILE USER PASSWORD`, `htpasswd -nb USER PASSWORD`: with `-b` the
    password is a positional argument, the third, or the second when `-n` leaves the file
    out. Without `-b` htpasswd prompts, and nothing on the line is a secret."""
    flags = "".join(re.findall(r"-([A-Za-z]+)", m.group("opts")))
    if "b" not in flags:
        return None
    group = "a2" if "n" in flags else "a3"
    if m.group(group) is None:
        return None
    start, end = m.span(group)
    if m.string[start] in "'\"":
        start, end = start + 1, end - 1
    value = m.string[start:end]
    if len(value) < 4 or _is_placeholder(value) or _USAGE_WORD.fullmatch(value.rstrip("`.,;:)")):
        return None
    base, whole = m.start(0), m.group(0)
    return whole[: start - base] + _mark("secret-assignment", value) + whole[end - base :]


# Usage lines and docs name the argument instead (`htpasswd -nb USER PASSWORD`).
_USAGE_WORD: Final = re.compile(
    r"[A-Z][A-Z_]*|(?i:(?:new|your|my|the)?[_\-]?(?:password|passwd|pass|pw))"
)
# One argument of a command line: quoted, or a word that does not start a redirection.
_ARG: Final = r"""(?:'[^'\r\n]*'|"[^"\r\n]*"|[^\s'"<>|;&][^\s'"]*)"""


# --- line-scoped rules -------------------------------------------------------------------
#
# The rules keyed on secret-ish names try their name pattern at the start of every
# identifier of the text and took most of the time (0.4 MB/s over this repository).
# Yet none of them can match across a line break, and each match holds one of a few
# words (`pass`, `token`, `key`...): such a rule is run only on the lines where one of
# its words occurs (about one line in twenty in code), which finds exactly the matches a
# run over the whole text finds. Exact because (1) the pattern consumes no `\n`, so a
# match lies inside one line and a scan of the whole text reaches each line start with
# nothing pending; (2) at a line's edges its lookarounds, `^`, `$` and `\b` see the same
# thing (`\n` or the end of the slice: neither is a name character, a blank or a word
# character); (3) the words are compared with the pattern's own case flag, so they
# match exactly the characters the pattern would (`_Words.hits`);
# (4) their replacers use only groups and spans relative to the match, never `m.string`.
# bench/bench_redaction.py --against REV checks the output is unchanged.


@frozen
class _Words:
    """Literal words, one of which every match of a line-scoped rule holds."""

    literals: tuple[str, ...]  # lower case when `regex` ignores case
    regex: re.Pattern[str]  # the same words as an alternation, with the rule's case flag

    def hits(self, text: str) -> list[int]:
        """Where the words occur in `text`, in order (at least one per line holding one)."""
        folded = bool(self.regex.flags & re.IGNORECASE)
        if folded and not text.isascii():
            # `(?i)` also folds `K` (KELVIN SIGN) onto `k`, `ſ` onto `s`...: only the
            # regex knows the whole table.
            return [m.start() for m in self.regex.finditer(text)]
        # On ASCII text `(?i)` is ASCII case folding, i.e. `str.lower`; `str.find` scans
        # far faster than a regex alternation.
        haystack = text.lower() if folded else text
        found: list[int] = []
        for word in self.literals:
            at = haystack.find(word)
            while at >= 0:
                found.append(at)
                at = haystack.find(word, at + 1)
        return sorted(found)


_LINE_SCOPED: Final[dict[re.Pattern[str], _Words]] = {}


def _line_scoped(pattern: re.Pattern[str], words: str) -> re.Pattern[str]:
    """Register `pattern` to run only on lines where one of `words` (literals separated
    by `|`) occurs, compared with the pattern's case flag. Every match of `pattern` must
    contain one of them and no line break (see above)."""
    folded = pattern.flags & re.IGNORECASE
    literals = tuple(w.lower() if folded else w for w in words.split("|"))
    assert all(re.escape(w) == w for w in literals), words  # literal words only
    _LINE_SCOPED[pattern] = _Words(literals, re.compile(words, folded))
    return pattern


def _sub_on_lines(
    pattern: re.Pattern[str],
    words: _Words,
    substitute: Callable[[re.Match[str]], str],
    text: str,
) -> str:
    """`pattern.sub(substitute, text)`, applied only to the lines holding one of `words`."""
    out: list[str] = []
    done = 0  # text[:done] is in `out`
    for hit in words.hits(text):
        if hit < done:
            continue  # on a line already done
        start = text.rfind("\n", 0, hit) + 1
        end = text.find("\n", hit)
        if end < 0:
            end = len(text)
        out.append(text[done:start])
        out.append(pattern.sub(substitute, text[start:end]))
        done = end
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


# Words one of which every secret-ish name holds (`_STRONG_NAME`, `_ENV_NAME`), and
# with the weaker names' words (`_WEAK_NAME`).
_STRONG_WORDS: Final = r"pass|pwd|secret|token|key|credential"
_ENV_WORDS: Final = r"PASS|PWD|SECRET|TOKEN|KEY|CREDENTIAL"
_WEAK_WORDS: Final = _STRONG_WORDS + r"|salt|signature|auth|cookie|dsn|sid|hmac"


RULES: Final[tuple[tuple[str, re.Pattern[str], Replacer], ...]] = (
    # PEM private keys, also inside string literals with escaped `\n`, and a BEGIN whose
    # END lies outside the selection (redact to the end of the base64 run). The search
    # for END stops at the next BEGIN: searched to the end of the text from every BEGIN,
    # a file of BEGIN lines without END took quadratic time (64 KB: 2.5 s).
    (
        "private-key",
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:(?:[^-]|-(?!----BEGIN))*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"|(?:(?:\r?\n|\\n)[ \t]*[A-Za-z0-9+/=]{16,})*)"
        ),
        _whole("private-key"),
    ),
    # PuTTY `.ppk` keys: the `Private-Lines:` base64 (encrypted or not) and the MAC after
    # it; the header and `Public-Lines:` are a public key and stay. The mark sits on the
    # first private line and keeps the block's line breaks; also with escaped `\n`.
    (
        "private-key",
        re.compile(
            r"Private-Lines:[ \t]*\d+[ \t]*(?:\r?\n|\\n)(?P<val>[ \t]*[A-Za-z0-9+/=]{4,}+"
            r"(?=[ \t]*(?:[\r\n\"']|\\n|\Z))(?:(?:\r?\n|\\n)[ \t]*[A-Za-z0-9+/=]{4,}+"
            r"(?=[ \t]*(?:[\r\n\"']|\\n|\Z)))*"
            r"(?:(?:\r?\n|\\n)[ \t]*Private-(?:MAC|Hash):[ \t]*[0-9a-fA-F]{16,})?)"
        ),
        _group("private-key", "val"),
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
        "huggingface-token",
        re.compile(_L + r"hf_[A-Za-z0-9]{34,}" + _R),
        _whole("huggingface-token"),
    ),
    (
        "npm-token",
        re.compile(_L + r"npm_[A-Za-z0-9]{36}" + _R),
        _whole("npm-token"),
    ),
    # More vendors' documented token shapes (prefix + fixed alphabet and length).
    ("groq-key", re.compile(_L + r"gsk_[A-Za-z0-9]{48,}" + _R), _whole("groq-key")),
    ("xai-key", re.compile(_L + r"xai-[A-Za-z0-9]{70,}" + _R), _whole("xai-key")),
    (
        "digitalocean-token",
        re.compile(_L + r"do[opr]_v1_[a-f0-9]{64}" + _R),
        _whole("digitalocean-token"),
    ),
    (
        "shopify-token",
        re.compile(_L + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _R),
        _whole("shopify-token"),
    ),
    ("databricks-token", re.compile(_L + r"dapi[a-f0-9]{32}" + _R), _whole("databricks-token")),
    ("pulumi-token", re.compile(_L + r"pul-[a-f0-9]{40}" + _R), _whole("pulumi-token")),
    (
        "linear-key",
        re.compile(_L + r"lin_(?:api|oauth)_[A-Za-z0-9]{40}" + _R),
        _whole("linear-key"),
    ),
    ("vault-token", re.compile(_L + r"hv[sbr]\.[A-Za-z0-9_\-]{24,}" + _R), _whole("vault-token")),
    (
        "sentry-token",
        re.compile(_L + r"sntr[ysu]s?_[A-Za-z0-9_=+/\-]{40,}" + _R),
        _whole("sentry-token"),
    ),
    (
        "age-secret-key",
        re.compile(r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
        _whole("age-secret-key"),
    ),
    (
        "discord-webhook",
        re.compile(
            r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]{40,}"
        ),
        _whole("discord-webhook"),
    ),
    # A Telegram bot token glued to `bot`, as the API wants it (`/bot<id>:<secret>/`,
    # `"bot" + token` spelled out, `?path=bot<id>:<secret>`), where the detect-secrets
    # pattern's boundary check does not see it. The 35-character secret after the colon
    # keeps `bot12345678:healthy` out.
    (
        "telegram-bot-token",
        re.compile(r"(?<=[Bb]ot)\d{8,10}:[0-9A-Za-z_\-]{35}" + _R),
        _whole("telegram-bot-token"),
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
        _group("aws-secret-key", "val", _not_placeholder),
    ),
    (
        "jwt",
        re.compile(_L + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}" + _R),
        _whole("jwt"),
    ),
    (
        "mailgun-key",
        re.compile(_L + r"key-[0-9a-f]{32}" + _R),
        _whole("mailgun-key"),
    ),
    # Azure SAS URLs and connection strings: the signature is the secret.
    (
        "azure-sas",
        re.compile(r"(?i)[?&;]sig=(?P<val>[A-Za-z0-9%+/=]{16,})"),
        _group("azure-sas", "val", _not_placeholder),
    ),
    # `Authorization: Basic dXNlcjpwYXNz`: only when the base64 decodes to `user:password`,
    # so prose ("basic authentication") is left alone.
    (
        "basic-auth",
        re.compile(r"(?i)\bbasic[ \t]+(?P<val>[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])"),
        _group("basic-auth", "val", _is_basic_credentials),
    ),
    (
        "url-password",
        re.compile(
            r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s/:@'\"\[\]]*:(?P<val>[^\s/@'\"\[\]]+)@"
        ),
        _group("url-password", "val", _not_placeholder),
    ),
    (
        "bearer-token",
        re.compile(r"(?i:\bbearer)[ \t]+(?P<val>[A-Za-z0-9._~+/\-]{20,}=*)"),
        _group("bearer-token", "val", _not_placeholder),
    ),
    # `Authorization: Token v` (Django REST framework), `Bot v` (Discord), `ApiKey v`...
    (
        "authorization",
        re.compile(
            r"(?i)\bauthorization[\"']?[ \t]*[:=,][ \t]*[\"'`]?"
            r"(?:token|bot|apikey|api-key|key|sso-key|ssws|otp)[ \t]+(?P<val>[^\s\"'`]{8,})"
        ),
        _group("authorization", "val", _not_placeholder),
    ),
    # Key=value connection strings inside a string literal: libpq
    # `"host=db password=hunter2"`, ADO.NET `"...;Password=x;"`, JDBC `?user=a&password=b`.
    (
        "connection-string",
        re.compile(
            r"(?i)(?<=[\s;\"'&?])(?:password|passwd|pwd|user[ _]?password|accountkey|"
            r"sharedaccesskey|shared[ _]?secret)[ \t]*=[ \t]*(?P<val>[^\s;'\"&]+)"
        ),
        _in_string_literal("connection-string"),
    ),
    # XML / config elements: `<password>hunter2</password>`, `<add key="x">` is data.
    (
        "secret-element",
        re.compile(r"(?i)<(?P<tag>" + _STRONG_NAME + r")>(?P<val>[^<\r\n]{4,}?)</(?P=tag)>"),
        _group("secret-element", "val", _not_placeholder),
    ),
    # `.env`: `export DB_PASSWORD=hunter2` (no spaces around `=`, at the start of a line)
    (
        "secret-assignment",
        _line_scoped(
            re.compile(
                r"(?m)(?:^|(?<=[ \t]))(?:(?:export|ENV|ARG|set|-e|--env)[ \t]+)?"
                + _ENV_NAME
                + r"=(?P<val>[^\s'\"#`][^\s'\"`]*)(?=[ \t]|$)",
            ),
            _ENV_WORDS,
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # `password = "hunter2"`, `"api_key": "..."`, `token := 'x'`, `SECRET_KEY = "..."`
    (
        "secret-assignment",
        _line_scoped(
            re.compile(
                r"(?i)"
                + _NAME_START
                + r"(?P<name>"
                + _STRONG_NAME
                + r")"
                + _NAME_END
                + r"(?:"
                + _ASSIGN
                + r"|"
                + _TYPED_ASSIGN
                + r")"
                + _WRAPPED
                + _QUOTED_VALUE,
            ),
            _STRONG_WORDS,
        ),
        _assigned("secret-assignment"),
    ),
    # SQL: `CREATE USER x WITH PASSWORD 'v'`, `IDENTIFIED BY 'v'`
    (
        "secret-assignment",
        re.compile(
            r"(?i)\b(?:password|identified[ \t]+by)[ \t]+(?P<q>['\"])(?P<val>[^'\"\r\n]{4,}?)(?P=q)"
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # C/C++ `#define API_KEY "v"`
    (
        "secret-assignment",
        re.compile(
            r"(?im)^[ \t]*#[ \t]*define[ \t]+"
            + _STRONG_NAME
            + _NAME_END
            + r"[ \t]+"
            + _QUOTED_VALUE
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # .netrc `machine host login me password v`, `mysql -pv`, `--password=v`. A flag is looked
    # for at most 300 characters after its command: a long line of `curl curl ...` scanned
    # to its end from every word was quadratic (20 KB: 1.8 s).
    (
        "secret-assignment",
        re.compile(
            r"(?im)(?:^[ \t]*(?:machine|default)\b[^\r\n]*?\bpassword[ \t]+"
            r"|--(?:http-|proxy-|ftp-)?password(?:=|[ \t]+)"
            # curl `-u user:pass`, `--user user:pass`, `--proxy-user user:pass`
            # (only on a curl line: `docker --user 1000:1000`, `pip -U pkg:x` are not secrets)
            # (`-uuser:pass` too, and on a `\`-continued line of the same command)
            r"|\bcurl\b(?:[^\r\n]|\\\r?\n){0,300}?[ \t](?:(?:--user|--proxy-user)(?:=|[ \t]+)"
            r"|-[uU](?:=|[ \t]*))['\"]?[^\s:'\"]+:"
            # httpie `http -a user:pass`
            r"|^[ \t]*https?(?:[ \t][^\r\n]{0,300}?)?[ \t](?:-a|--auth)(?:=|[ \t]+)"
            r"['\"]?[^\s:'\"]+:"
            r"|\bdocker[ \t]+login\b[^\r\n]{0,300}?[ \t]-p[ \t]+['\"]?"
            r"|\bsshpass\b[^\r\n]{0,300}?[ \t]-p[ \t]*['\"]?"
            r"|\bsqlcmd\b[^\r\n]{0,300}?[ \t]-P[ \t]+['\"]?"
            # keytool `-storepass v`, openssl `-passout pass:v`
            r"|[ \t]-(?:src|dest)?(?:store|key)pass[ \t]+['\"]?"
            r"|[ \t]-pass(?:in|out)?[ \t]+['\"]?pass:"
            r"|\bmysql(?:dump|admin)?\b[^\r\n]{0,300}?[ \t]-p)"
            r"(?P<val>[^\s'\"]+)"
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # htpasswd's batch mode (`-b`): the password is a positional argument (`_htpasswd`).
    # Options are letters, `-C` takes a number; each is consumed once, so a long line
    # of `htpasswd htpasswd ...` costs one short attempt per word.
    (
        "secret-assignment",
        re.compile(
            r"\bhtpasswd(?P<opts>(?:[ \t]+-[A-Za-z]+(?:[ \t]+\d+)?)+)"
            rf"[ \t]+(?P<a1>{_ARG})[ \t]+(?P<a2>{_ARG})(?:[ \t]+(?P<a3>{_ARG}))?"
        ),
        _htpasswd,
    ),
    # requests/httpx `auth=("user", "pass")`, `HTTPBasicAuth("user", "pass")`,
    # aiohttp `BasicAuth("user", "pass")`: the second literal is the password.
    (
        "secret-assignment",
        re.compile(
            r"(?:\bauth[ \t]*=[ \t]*[(\[]|\b(?:HTTP(?:Basic|Digest|Proxy)Auth|BasicAuth"
            # Go `SetBasicAuth`, .NET `NetworkCredential`, Java's credential classes and
            # OkHttp `Credentials.basic`, smtplib/ftplib/imaplib `.login(user, pw)`
            r"|SetBasicAuth|NetworkCredential|UsernamePasswordCredentials"
            r"|PasswordAuthentication|BasicAWSCredentials|Credentials\.basic|\.login)\()"
            r"[ \t]*(?:(?P<q1>['\"])[^'\"\r\n]*(?P=q1)|[A-Za-z_][\w.]*)[ \t]*,[ \t]*"
            r"(?:password[ \t]*=[ \t]*)?(?P<q>['\"])(?P<val>[^'\"\r\n]{4,}?)(?P=q)"
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # A name and its value side by side: .NET `<add key="SmtpPassword" value="v" />`,
    # Spring/Ant `<property name="password" value="v"/>`, Kubernetes and ECS env lists
    # (`- name: DB_PASSWORD` then `value: "v"` on the next line, or JSON on one).
    (
        "secret-assignment",
        re.compile(
            r"(?i)\b(?:key|name)[\"']?[ \t]*[:=][ \t]*[\"']?"
            + _STRONG_NAME
            + _NAME_END
            + r"[\"']?[ \t]*,?[ \t]*(?:\r?\n[ \t]*)?[\"']?value[\"']?[ \t]*[:=][ \t]*"
            r"(?P<q>[\"']?)(?P<val>[^\s\"',}]{4,}?)(?P=q)(?=[\s,}/>]|$)"
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # A secret-named string and a literal beside it: PHP `define('DB_PASSWORD', 'v')`,
    # `os.Setenv("API_KEY", "v")`, `getenv("API_KEY", "v")`, `props.put("mail.password",
    # "v")`; a setter or builder: `setPassword("v")`, `.apiKey("v")`; a fallback:
    # `process.env.API_KEY || "v"`, `os.getenv("TOKEN") or "v"`.
    (
        "secret-assignment",
        _line_scoped(
            re.compile(
                r"(?i)(?:(?P<q1>[\"'])"
                + _STRONG_NAME
                + r"(?P=q1)[ \t]*,"
                + r"|\b(?:set|with)_?"
                + _STRONG_NAME
                + r"[ \t]*\("
                + r"|\.(?:password|passwd|passphrase|secret|token|api_?key|access_?key|secret_?key"
                r"|private_?key|credentials?|client_?secret|auth_?token|access_?token)\("
                + r"|"
                + _NAME_START
                + _STRONG_NAME
                + _NAME_END
                + r"[\"']?\]?\)?[ \t]*(?:\|\||\?\?|\bor\b|\?:))"
                + r"[ \t]*"
                + _QUOTED_VALUE
            ),
            _STRONG_WORDS,
        ),
        _group("secret-assignment", "val", lambda v: _credential_like(v)),
    ),
    # PowerShell `ConvertTo-SecureString "v" -AsPlainText`
    (
        "secret-assignment",
        re.compile(
            r"(?i)\bConvertTo-SecureString[ \t]+(?:-String[ \t]+)?(?P<q>[\"'])"
            r"(?P<val>[^\"'\r\n]{4,}?)(?P=q)(?=[^\r\n]{0,200}?-AsPlainText)"
        ),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # Dockerfile's older `ENV API_TOKEN v` (a space, no `=`)
    (
        "secret-assignment",
        re.compile(r"(?m)^[ \t]*ENV[ \t]+" + _ENV_NAME + r"[ \t]+(?P<val>[^\s'\"#=]+)[ \t]*$"),
        _group("secret-assignment", "val", _not_placeholder),
    ),
    # YAML / INI: `password: hunter2` alone on its line
    (
        "secret-assignment",
        _line_scoped(
            re.compile(
                r"(?im)^[ \t]*(?:-[ \t]*)?"
                + _STRONG_NAME
                + _NAME_END
                + r"[ \t]*(?:[?:+]?=|:)[ \t]*"
                + _BARE_VALUE
                + r"(?:[ \t]+#.*)?[ \t]*$",
            ),
            _STRONG_WORDS,
        ),
        _group("secret-assignment", "val", _strong_bare_ok),
    ),
    # Anything random-looking assigned to a key-ish name: `signing_key = 'f3a9...'`.
    (
        "high-entropy",
        _line_scoped(
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
                + _WRAPPED
                + r"""["'`]?(?P<val>[A-Za-z0-9+/=_\-.~]{16,})""",
            ),
            _WEAK_WORDS,
        ),
        _group("high-entropy", "val", _random_not_placeholder),
    ),
)


# --- detect-secrets ---------------------------------------------------------------------
#
# Yelp's detect-secrets keeps regexes for provider formats we do not cover ourselves
# (SendGrid, Discord, Telegram, Twilio, Mailchimp, PyPI, Square, Azure storage, IBM...).
# We use its plugins' published patterns rather than its scanner: the scanner works on
# files and reports, we need spans to replace in place. Only format-based plugins: its
# entropy and keyword plugins would flag lockfile hashes, our own rules cover keywords,
# and its keyword-assignment patterns (IBM, SoftLayer, Cloudant) backtrack
# catastrophically on a line of spaces (measured: minutes for 2,000 spaces).
_DETECT_SECRETS_PLUGINS: Final = (
    ("azure_storage_key", "AzureStorageKeyDetector"),
    ("discord", "DiscordBotTokenDetector"),
    ("mailchimp", "MailchimpDetector"),
    ("npm", "NpmDetector"),
    ("pypi_token", "PypiTokenDetector"),
    ("sendgrid", "SendGridDetector"),
    ("square_oauth", "SquareOAuthDetector"),
    ("telegram_token", "TelegramBotTokenDetector"),
    ("twilio", "TwilioKeyDetector"),
)
_ALNUM: Final = re.compile(r"[A-Za-z0-9]")


def _plugin_replacer(rule: str) -> Replacer:
    """The pattern's last captured group is the secret (detect-secrets' convention); a
    pattern without groups is a whole token and must not be part of a longer word (a
    Twilio-shaped `SK` + 32 characters inside a sha512 in a lockfile is not a key)."""

    def replace(m: re.Match[str]) -> str | None:
        groups = [i for i in range(1, (m.re.groups or 0) + 1) if m.group(i)]
        index = groups[-1] if groups else 0
        start, end = m.span(index)
        if index == 0:
            text = m.string
            if (start > 0 and _ALNUM.match(text[start - 1])) or (
                end < len(text) and _ALNUM.match(text[end])
            ):
                return None
        value = m.group(index)
        if _is_placeholder(value):
            return None
        whole, base = m.group(0), m.start(0)
        return whole[: start - base] + _mark(rule, value) + whole[end - base :]

    return replace


def _plugin_rules() -> list[tuple[str, re.Pattern[str], Replacer]]:
    """Each plugin on its own: one that cannot be imported (an install without
    detect-secrets, or without `requests`, which two plugins import for verification we
    never do) leaves the others and our own rules in force."""
    import importlib

    rules = []
    for module, name in _DETECT_SECRETS_PLUGINS:
        try:
            plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
            patterns = list(plugin.denylist)
        except Exception:  # ImportError, or a plugin API that changed shape
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", str(plugin.secret_type).lower()).strip("-")
        rules += [(slug, p, _plugin_replacer(slug)) for p in patterns if isinstance(p, re.Pattern)]
    return rules


_all_rules: list[tuple[str, re.Pattern[str], Replacer]] | None = None


def _rules() -> list[tuple[str, re.Pattern[str], Replacer]]:
    """Our provider formats, then detect-secrets' formats, then our heuristics: the
    heuristics then see the formats' marks (a partly redacted value is redacted whole)."""
    global _all_rules
    if _all_rules is None:
        split = next(i for i, r in enumerate(RULES) if r[0] == "azure-sas")
        _all_rules = [*RULES[:split], *_plugin_rules(), *RULES[split:]]
    return _all_rules


# Rules that cannot match without this text; checked first, because detect-secrets'
# `//.+/:_authToken=` scans a long line from every `//` in it (minified JavaScript full of
# URLs: 700 KB took 15 s).
_NEEDS: Final = {"npm-tokens": "_authToken"}


def redact(text: str) -> RedactionResult:
    """Replace secrets in `text` by ``[REDACTED:rule]``; the line count never changes."""
    counts: dict[str, int] = {}
    for rule, pattern, replacer in _rules():
        needed = _NEEDS.get(rule)
        if needed is not None and needed not in text:
            continue
        hits = 0

        def substitute(m: re.Match[str], replacer: Replacer = replacer) -> str:
            nonlocal hits
            out = replacer(m)
            if out is None:
                return m.group(0)
            hits += 1
            return out

        words = _LINE_SCOPED.get(pattern)
        if words is None:
            text = pattern.sub(substitute, text)
        else:
            text = _sub_on_lines(pattern, words, substitute, text)
        if hits:
            counts[rule] = counts.get(rule, 0) + hits
    return RedactionResult(text=text, counts=counts)


def _secrets(original: str) -> dict[str, list[str]] | None:
    """What each mark stands for in `original`, in order: mark -> the texts it replaced.

    Redaction only swaps secrets for marks, so the redacted text is literal pieces with
    marks between them, and the original is the same pieces with the secrets between
    them. None when the pieces do not line up (a private-key block, whose mark keeps the
    block's line breaks after it).
    """
    pieces = re.split(f"({_MARK.pattern})", redact(original).text)
    literals, marks = pieces[0::2], pieces[1::2]
    pattern = "(.*?)".join(re.escape(part) for part in literals)
    found = re.fullmatch(pattern, original, re.DOTALL)
    if found is None:
        return None
    out: dict[str, list[str]] = {}
    for mark, secret in zip(marks, found.groups(), strict=True):
        out.setdefault(mark, []).append(secret)
    return out


def restore(replacement: str, original: str) -> str:
    """A model's `replacement` for `original` with the secrets it never saw put back.

    The model was sent `original` redacted, so a fix of a line that holds a key keeps
    ``[REDACTED:rule]`` where the key was; written as is, the fix would destroy the key.
    Each mark is put back to the secret it replaced in `original`, in order; a mark used
    more often than it occurs is put back only when it stood for one value every time.
    Raises RedactedFix when that cannot be done safely.
    """
    used = _MARK.findall(replacement)
    if not used:
        return replacement
    secrets = _secrets(original)
    if secrets is None:
        raise RedactedFix("the redacted text it rewrites spans several lines")
    wanted = Counter(used)
    for mark, count in wanted.items():
        values = secrets.get(mark, [])
        if not values:
            raise RedactedFix(f"it contains {mark}, which the code it replaces does not")
        if count != len(values) and len(set(values)) > 1:
            raise RedactedFix(f"it uses {mark} {count} times where the code has {len(values)}")
    nth: Counter[str] = Counter()

    def put_back(m: re.Match[str]) -> str:
        values = secrets[m.group(0)]
        i = nth[m.group(0)]
        nth[m.group(0)] += 1
        return values[min(i, len(values) - 1)]

    return _MARK.sub(put_back, replacement)
