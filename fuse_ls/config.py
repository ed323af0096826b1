"""Typed settings. The shape here is the contract shared by the engine, the server,
the editors (initializationOptions / workspace/configuration) and the config files.

Keys are snake_case in files; camelCase from editors is accepted too.
"""

from __future__ import annotations

from attrs import define, field

from fuse_ls.fusion.types import Endpoint, Mode

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"


@define
class ModelSpec:
    id: str
    base_url: str | None = None  # None: provider.base_url
    api_key_env: str | None = None  # None: provider.api_key_env
    repeat: int = 1  # ask the same model several times (self-consistency)
    max_tokens: int | None = None
    temperature: float | None = None


@define
class QuorumSettings:
    min_responses: int | None = None  # None: wait for the whole pool (until the deadline)
    deadline_s: float = 90.0


@define
class TimeoutSettings:
    connect_s: float = 10.0
    request_s: float = 120.0  # one model call, streaming included
    first_token_s: float = 60.0


@define
class RetrySettings:
    max_attempts: int = 3  # total attempts, the first included
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0


@define
class BudgetSettings:
    max_usd_per_request: float | None = 0.50
    max_usd_per_day: float | None = 10.0


@define
class ProviderSettings:
    base_url: str = OPENROUTER_BASE_URL
    api_key_env: str = "OPENROUTER_API_KEY"
    referer: str = "https://github.com/fuse-ls/fuse-ls"
    title: str = "fuse-ls"
    # Ask OpenRouter to route only to providers that do not train on our prompts.
    deny_data_collection: bool = True


@define
class DebateSettings:
    rounds: int = 1  # 1..3


@define
class ReviewSettings:
    context_lines: int = 20  # lines around the selection given as context
    redact_secrets: bool = True  # redact secret-looking code before it leaves the machine
    min_votes_for_warning: int = 2  # below this, an unconfirmed finding is at most info


@define
class TelemetrySettings:
    enabled: bool = True  # local only; nothing leaves the machine without `fuse-ls upload`
    record_content: bool = False
    retention_days: int = 90
    max_total_mb: int = 200
    max_lines_per_file: int = 5000  # Rudel's analytics stop near 8,000 lines
    data_dir: str | None = None  # None: the platform data dir


@define
class Settings:
    pool: list[ModelSpec] = field(
        factory=lambda: [
            ModelSpec("anthropic/claude-sonnet-4.5"),
            ModelSpec("openai/gpt-5"),
            ModelSpec("google/gemini-2.5-pro"),
        ]
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

    def endpoint_for(self, spec: ModelSpec) -> Endpoint:
        headers = {"HTTP-Referer": self.provider.referer, "X-OpenRouter-Title": self.provider.title}
        return Endpoint(
            base_url=(spec.base_url or self.provider.base_url).rstrip("/"),
            api_key_env=spec.api_key_env or self.provider.api_key_env,
            headers=headers,
        )
