"""Typed settings: the contract shared by the engine, the server, the editors
(initializationOptions / workspace/configuration) and the config files.

Every shape is frozen. What each key accepts is declared beside it (see
`fuse_ls.core.specs`); `fuse_ls.config` loads the layers and checks them key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from attrs import Attribute, field, frozen
from attrs.validators import min_len

from fuse_ls.core.specs import (
    EXPECTED,
    Invalid,
    ModelSpec,
    checked,
    count,
    env_name,
    header_text,
    not_blank,
    number,
    url,
)
from fuse_ls.core.types import Endpoint, Mode

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
MAX_POOL_CALLS = 16  # sum of `repeat` over the pool: more is a cost accident, not a config
_POSITIVE = number(above=0)


@frozen
class QuorumSettings:
    # None: wait for the whole pool (until the deadline).
    min_responses: int | None = field(default=None, metadata=count(1, null=True))
    deadline_s: float = field(default=90.0, metadata=_POSITIVE)


@frozen
class TimeoutSettings:
    connect_s: float = field(default=10.0, metadata=_POSITIVE)
    request_s: float = field(default=120.0, metadata=_POSITIVE)  # one call, streaming included
    first_token_s: float = field(default=60.0, metadata=_POSITIVE)


@frozen
class RetrySettings:
    max_attempts: int = field(default=3, metadata=count(1, 10))  # the first one included
    backoff_base_s: float = field(default=0.5, metadata=number(low=0))
    backoff_max_s: float = field(default=8.0, metadata=number(low=0))


@frozen
class BudgetSettings:
    max_usd_per_request: float | None = field(default=0.50, metadata=number(low=0, null=True))
    max_usd_per_day: float | None = field(default=10.0, metadata=number(low=0, null=True))


@frozen
class ProviderSettings:
    base_url: str = field(default=OPENROUTER_BASE_URL, metadata=url())
    api_key_env: str = field(default="OPENROUTER_API_KEY", metadata=env_name())
    referer: str = field(default="https://github.com/fuse-ls/fuse-ls", metadata=header_text())
    title: str = field(default="fuse-ls", metadata=header_text())
    # Ask OpenRouter to route only to providers that do not train on our prompts.
    deny_data_collection: bool = True


@frozen
class DebateSettings:
    rounds: int = field(default=1, metadata=count(1, 3))


@frozen
class ReviewSettings:
    # Lines around the selection given as context.
    context_lines: int = field(default=20, metadata=count(0))
    redact_secrets: bool = True  # redact secret-looking code before it leaves the machine
    # Votes an unconfirmed finding needs to be reported in a pool of 3+ (the quorum also
    # grows to a third of bigger pools); fewer make it a hint. See fuse_ls/fusion/votes.py.
    min_votes_for_warning: int = field(default=2, metadata=count(1))


@frozen
class TelemetrySettings:
    enabled: bool = True  # local only; nothing leaves the machine without `fuse-ls upload`
    record_content: bool = False
    retention_days: int = field(default=90, metadata=count(1))
    max_total_mb: int = field(default=200, metadata=count(1))
    # Rudel's analytics stop near 8,000 lines.
    max_lines_per_file: int = field(default=5000, metadata=count(1))
    # None: the platform data dir.
    data_dir: str | None = field(default=None, metadata=not_blank("a directory path", null=True))
    # OpenTelemetry (the `otel` extra): traces and metrics over OTLP/HTTP, off by default.
    otel: bool = False
    # None: the OTEL_EXPORTER_OTLP_* variables decide.
    otel_endpoint: str | None = field(
        default=None, metadata=url("an http(s) URL of an OTLP collector,", null=True)
    )
    otel_content: bool = False  # also export code and answers (redacted)


@frozen
class VerifyCommand:
    # A shell command line, run in the isolated copy's workspace folder.
    run: str = field(metadata=not_blank("a non-empty command line"))
    # None: verify.timeout_s.
    timeout_s: float | None = field(default=None, metadata=number(above=0, null=True))


@frozen
class VerifySettings:
    """Checks a fused fix must pass in an isolated copy before it is applied (issue 15).

    `commands` run programs, so a workspace file sets them only once the workspace is
    trusted (fuse_ls/trust.py); they never come from a model's answer."""

    commands: list[VerifyCommand] = field(
        factory=list, metadata={EXPECTED: "a list of command lines or {run, timeout_s} tables"}
    )
    timeout_s: float = field(default=300.0, metadata=_POSITIVE)  # per command
    # Per command: the first quarter and the last part are kept.
    max_output_kb: int = field(default=64, metadata=count(1, 10240))
    concurrency: int = field(default=2, metadata=count(1, 16))  # verifications at once


def _pool_calls(_instance: object, _attribute: Attribute[Any], pool: list[ModelSpec]) -> None:
    calls = sum(spec.repeat for spec in pool)
    if calls > MAX_POOL_CALLS:
        text = f"at most {MAX_POOL_CALLS} model calls in total (the sum of every entry's repeat)"
        raise Invalid(text, calls)


def _default_pool() -> list[ModelSpec]:
    return [
        ModelSpec("anthropic/claude-sonnet-4.5"),
        ModelSpec("openai/gpt-5"),
        ModelSpec("google/gemini-2.5-pro"),
    ]


@frozen
class Settings:
    pool: list[ModelSpec] = field(
        factory=_default_pool,
        metadata=checked(
            "a non-empty list of model ids or {id, repeat, ...} tables", min_len(1), _pool_calls
        ),
    )
    judge: ModelSpec = field(factory=lambda: ModelSpec("openai/gpt-5-mini"))
    mode: Mode = "merge"
    quorum: QuorumSettings = field(factory=QuorumSettings)
    timeouts: TimeoutSettings = field(factory=TimeoutSettings)
    retries: RetrySettings = field(factory=RetrySettings)
    budget: BudgetSettings = field(factory=BudgetSettings)
    provider: ProviderSettings = field(factory=ProviderSettings)
    debate: DebateSettings = field(factory=DebateSettings)
    review: ReviewSettings = field(factory=ReviewSettings)
    telemetry: TelemetrySettings = field(factory=TelemetrySettings)
    verify: VerifySettings = field(factory=VerifySettings)

    def endpoint_for(self, spec: ModelSpec) -> Endpoint:
        headers = {"HTTP-Referer": self.provider.referer, "X-OpenRouter-Title": self.provider.title}
        return Endpoint(
            base_url=(spec.base_url or self.provider.base_url).rstrip("/"),
            api_key_env=spec.api_key_env or self.provider.api_key_env,
            headers=headers,
        )


def replace(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    """A copy of `settings` with dotted keys changed: `{"provider.base_url": url}`.

    Settings are frozen: the CLI, the demo and the server each hold what they loaded,
    and nothing changes it under another's feet.
    """
    top: dict[str, Any] = {}
    for dotted, value in changes.items():
        section, _, name = dotted.partition(".")
        if name:
            current = top.get(section, getattr(settings, section))
            top[section] = attrs.evolve(current, **{name: value})
        else:
            top[section] = value
    return attrs.evolve(settings, **top)
