"""How a setting says what it accepts, and the model spec the core's own types refer to.

A checked field carries, in its attrs metadata, attrs validators for its range and the
words a message completes "expected ..." with. `fuse_ls.config` runs them while it
structures user input with cattrs, one key at a time. They are deliberately not run by
`__init__`: code and tests build settings freely, and `validate_settings` reports what
such code got wrong, with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from attrs import Attribute, field, frozen
from attrs.validators import and_, ge, gt, le, matches_re, optional

EXPECTED = "fuse_ls.expected"  # metadata key: completes "expected ..." in a message
CHECK = "fuse_ls.check"  # metadata key: an attrs validator for the structured value

Check = Callable[[Any, "Attribute[Any]", Any], Any]


class Invalid(ValueError):
    """Raised by a check whose words differ from its field's (the pool's total calls)."""

    def __init__(self, expected: str, shown: object) -> None:
        super().__init__(expected)
        self.expected = expected
        self.shown = shown


def checked(expected: str, *checks: Check, null: bool = False) -> dict[str, Any]:
    """Field metadata: what a message says is expected, and the validators to run."""
    check: Check = and_(*checks)
    return {
        EXPECTED: expected + (" or null" if null else ""),
        CHECK: optional(check) if null else check,
    }


def _bounded(
    kind: str,
    fmt: Callable[[float], str],
    low: float | None,
    high: float | None,
    above: float | None,
    null: bool,
) -> dict[str, Any]:
    if low is not None and high is not None:
        text = f"{kind} from {fmt(low)} to {fmt(high)}"
    elif low is not None:
        text = f"{kind} >= {fmt(low)}"
    elif above is not None:
        text = f"{kind} > {fmt(above)}"
    else:
        text = kind
    checks = [ge(low)] if low is not None else []
    checks += [le(high)] if high is not None else []
    checks += [gt(above)] if above is not None else []
    return checked(text, *checks, null=null)


def count(low: int, high: int | None = None, *, null: bool = False) -> dict[str, Any]:
    """An integer from `low` (to `high`)."""
    return _bounded("an integer", lambda x: str(int(x)), low, high, None, null)


def number(
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    null: bool = False,
) -> dict[str, Any]:
    return _bounded("a number", lambda x: f"{x:g}", low, high, above, null)


def _http_url(_instance: object, attribute: Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{attribute.name}: not an http(s) URL")


URL = "an http:// or https:// URL such as 'https://openrouter.ai/api/v1'"
ENV_NAME = "the name of an environment variable such as 'OPENROUTER_API_KEY', never a key"


def url(expected: str = URL, *, null: bool = False) -> dict[str, Any]:
    return checked(expected, _http_url, null=null)


def header_text() -> dict[str, Any]:
    """Text sent as an HTTP header value: printable ASCII on one line. A repository's
    `title = "café"` made every call fail on encoding (a traceback), and a line break
    in one is refused by the HTTP library on each call."""
    return checked(
        "printable ASCII text on one line (it is sent as an HTTP header)", matches_re(r"[ -~]*")
    )


def not_blank(expected: str, *, null: bool = False) -> dict[str, Any]:
    return checked(expected, matches_re(r"(?s).*\S.*"), null=null)


# Keys whose shape is also a valid variable name (`ghp_...`, `hf_...`, `AKIA...`): one
# pasted into `api_key_env` was taken as a variable's name, and doctor and the CLI then
# printed it ("key ghp_...: not set: export ghp_...=...").
_KEY_AS_NAME: Final = re.compile(
    r"(?:gh[pousr]_|github_pat_|hf_|gsk_|npm_|xox[abposre]_|AKIA|ASIA|AIza|sk_live_|sk_test_)"
    r"[A-Za-z0-9_]{16,}"
)


def _not_a_key(_instance: object, attribute: Attribute[Any], value: str) -> None:
    if _KEY_AS_NAME.fullmatch(value):
        raise ValueError(f"{attribute.name}: a key, not a variable name")


def env_name(*, null: bool = False) -> dict[str, Any]:
    check = matches_re(re.compile(r"[A-Za-z_][A-Za-z0-9_]*"))
    return checked(ENV_NAME + ("," if null else ""), check, _not_a_key, null=null)


def _printable(_instance: object, attribute: Attribute[Any], value: str) -> None:
    if not value.isprintable():
        raise ValueError(f"{attribute.name}: control characters")


# A key pasted where a model id belongs (`--judge sk-or-v1-...`) was sent as the model's
# name, printed in progress lines and notes (CI logs) and recorded in telemetry.
_KEY_AS_ID: Final = re.compile(rf"sk-[A-Za-z0-9_-]{{20,}}|{_KEY_AS_NAME.pattern}")


def _not_a_key_id(_instance: object, attribute: Attribute[Any], value: str) -> None:
    if _KEY_AS_ID.fullmatch(value.strip()):
        raise ValueError(f"{attribute.name}: a key, not a model id")


def model_id() -> dict[str, Any]:
    """A model id: printed in tables, notes and errors, and a repository's config may set
    it, so an ESC in one (`id = "\\u001b]52;c;..."`) wrote to the user's terminal (the
    clipboard, the window title) on every review."""
    return checked(
        "a non-empty model id such as 'openai/gpt-5'",
        matches_re(r"(?s).*\S.*"),
        _printable,
        _not_a_key_id,
    )


@frozen
class ModelSpec:
    id: str = field(metadata=model_id())
    base_url: str | None = field(default=None, metadata=url(null=True))  # None: provider's
    api_key_env: str | None = field(default=None, metadata=env_name(null=True))
    # Ask the same model several times (self-consistency).
    repeat: int = field(default=1, metadata=count(1, 8))
    max_tokens: int | None = field(default=None, metadata=count(1, null=True))
    temperature: float | None = field(default=None, metadata=number(low=0, high=2, null=True))
    # Prompt tokens this model may be sent (a small local model's window, or a cap of
    # your own); None: what /models says its context_length leaves. Change review asks
    # a unit over it in pieces that fit.
    max_input_tokens: int | None = field(default=None, metadata=count(1024, null=True))
