"""Every error fuse-ls raises on purpose, in one tree. Each message says what happened
and what to do next; messages never include API keys (the provider only ever knows the
*name* of the environment variable a key lives in).

    FuseError
    ├── ConfigError              a setting has a bad value (key, value, allowed, source)
    │   ├── ConfigFileError      a whole config file is unusable
    │   └── ConfigNotice         not a bad value, but a config that is ignored
    │       └── UnknownSetting   a key no setting has (a warning, with a suggestion)
    ├── BadRange                 the selected lines are not in the document
    ├── RedactedFix              a fix rewrites redacted secrets it cannot put back
    ├── BudgetExceeded           the estimated cost is over a budget
    ├── AllModelsFailed          no pool member answered
    ├── UploadError              an upload to Rudel cannot start (bad URL, no key)
    └── ProviderError            one model call failed; `kind` is machine readable
        ├── BadRequestError, AuthError, CreditsError, ModerationError
        ├── MalformedAnswer      the exchange worked, the answer is unusable
        └── retryable: ProviderTimeout, RateLimited, UpstreamError, ConnectionFailed
"""

from __future__ import annotations


def visible(text: str) -> str:
    """`text` with its control characters written as escapes (`\\x1b`): setting keys and
    config paths come from repositories and are printed (as `safetext.visible`, which
    core may not import)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def named(model: str, message: str) -> str:
    """`model: message`, naming the model once: provider messages already start with it."""
    return f"{model}: {message.removeprefix(f'{model}: ')}"


class FuseError(Exception):
    """Base of every error fuse-ls raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(FuseError):
    """A setting has a bad value. `key` is the key as its source spelled it (dotted, such
    as `fuseLs.quorum.minResponses`, or an environment variable's name); `setting` is the
    setting's own dotted snake_case name (`quorum.min_responses`)."""

    def __init__(
        self, key: str, value: object, allowed: str, source: str = "", setting: str = ""
    ) -> None:
        # Keys and paths are a repository's text too: an ESC in one is shown, not sent.
        where = f" (from {visible(source)})" if source else ""
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(
            f"Invalid setting '{visible(key)}'{where}: got {shown}; expected {allowed}."
        )
        self.key = key
        self.setting = setting or key
        self.value = value
        self.allowed = allowed
        self.source = source


class ConfigFileError(ConfigError):
    """A whole config file is unusable (unreadable, or not valid TOML)."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        super().__init__("", None, "a valid TOML file", path)
        where = f" at line {line}" if line is not None else ""
        self.message = (
            f"Cannot use config file {visible(path)}: {reason}{where}. "
            "Its settings are ignored until it is fixed."
        )
        self.args = (self.message,)
        self.line = line


class ConfigNotice(ConfigError):
    """Not a bad value but something the user must know (a config that is ignored)."""

    def __init__(self, key: str, message: str, source: str, setting: str = "") -> None:
        super().__init__(key, None, "", source, setting)
        self.message = message
        self.args = (message,)


class UnknownSetting(ConfigNotice):
    """A key that no setting has: ignored, with the closest known key as a hint. Its value
    is never shown (`api_key = "sk-..."` is a typical unknown key)."""

    def __init__(self, key: str, hint: str, source: str, setting: str = "") -> None:
        where = f" (from {visible(source)})" if source else ""
        message = f"Unknown setting '{visible(key)}'{where} is ignored; expected {hint}."
        super().__init__(key, message, source, setting)
        self.allowed = hint


class BadRange(FuseError):
    """The selected lines do not exist in the document (1-based, inclusive)."""

    def __init__(self, start_line: int, end_line: int, line_count: int) -> None:
        lines = "line" if line_count == 1 else "lines"
        if end_line < start_line and start_line >= 1:
            message = f"Range {start_line}-{end_line} is reversed: it ends before it starts"
        else:
            message = (
                f"Range {start_line}-{end_line} is outside the document ({line_count} {lines})"
            )
            if start_line < 1:
                message += "; lines are numbered from 1"
        super().__init__(message)
        self.start_line = start_line
        self.end_line = end_line
        self.line_count = line_count


class RedactedFix(FuseError):
    """A fix would write a redaction mark (``[REDACTED:rule]``) over a real secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "The fix rewrites secret-looking text that was redacted before it was sent, and "
            f"cannot be applied safely: {reason}. Apply the change by hand."
        )


class UploadError(FuseError):
    """A problem that stops the whole upload (bad URL, no key); exit status 2."""


def _as_set(usd: float) -> str:
    """A limit as the user wrote it: 0.00001 stays 0.00001, not $0.0000 (nor 1e-05)."""
    return f"{usd:.4f}" if usd >= 0.01 else f"{usd:.10f}".rstrip("0").rstrip(".")


class BudgetExceeded(FuseError):
    def __init__(self, estimated_usd: float, limit_usd: float, which: str) -> None:
        super().__init__(
            f"Estimated cost ${estimated_usd:.4f} exceeds the {which} budget of "
            f"${_as_set(limit_usd)}. "
            f"Raise budget.max_usd_per_{'request' if which == 'per-request' else 'day'}, "
            "select less code, or use cheaper/fewer models."
        )
        self.estimated_usd = estimated_usd
        self.limit_usd = limit_usd
        self.which = which


class ProviderError(FuseError):
    """A model call failed. `kind` is stable and machine readable."""

    kind = "provider"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class BadRequestError(ProviderError):
    kind = "bad_request"


class AuthError(ProviderError):
    kind = "auth"


class CreditsError(ProviderError):
    kind = "credits"


class ModerationError(ProviderError):
    kind = "moderation"


class ProviderTimeout(ProviderError):
    kind = "timeout"
    retryable = True


class RateLimited(ProviderError):
    kind = "rate_limited"
    retryable = True


class UpstreamError(ProviderError):
    kind = "upstream"
    retryable = True


class MalformedAnswer(ProviderError):
    """The HTTP exchange worked but the answer is unusable (bad JSON, empty, cut stream)."""

    kind = "malformed"


class ConnectionFailed(ProviderError):
    kind = "connection"
    retryable = True


class AllModelsFailed(FuseError):
    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        # Provider messages already start with the model id; do not say it twice.
        lines = "\n".join(f"- {named(model, reason)}" for model, reason in reasons)
        super().__init__(
            f"Every model in the pool failed:\n{lines}\nRun `fuse-ls doctor` to check the "
            "key, the endpoint and the model ids."
        )
        self.reasons = reasons
