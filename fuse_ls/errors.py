"""The error hierarchy. Every message says what happened and what to do next.

Messages never include API keys: the provider only ever knows the *name* of the
environment variable a key lives in.
"""

from __future__ import annotations


class FuseError(Exception):
    """Base of every error fuse-ls raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(FuseError):
    """A setting has a bad value. `key` is dotted (`quorum.min_responses`)."""

    def __init__(self, key: str, value: object, allowed: str, source: str = "") -> None:
        where = f" (from {source})" if source else ""
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"Invalid setting '{key}'{where}: got {shown}; expected {allowed}.")
        self.key = key
        self.value = value
        self.allowed = allowed
        self.source = source


class BudgetExceeded(FuseError):
    def __init__(self, estimated_usd: float, limit_usd: float, which: str) -> None:
        super().__init__(
            f"Estimated cost ${estimated_usd:.4f} exceeds the {which} budget of ${limit_usd:.4f}. "
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
        lines = "\n".join(
            f"- {model}: {reason.removeprefix(f'{model}: ')}" for model, reason in reasons
        )
        super().__init__(
            f"Every model in the pool failed:\n{lines}\nRun `fuse-ls doctor` to check the "
            "key, the endpoint and the model ids."
        )
        self.reasons = reasons
