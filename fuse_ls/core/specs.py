"""Setting shapes that the core's own types refer to (the rest live in `fuse_ls.config`)."""

from __future__ import annotations

from attrs import frozen


@frozen
class ModelSpec:
    id: str
    base_url: str | None = None  # None: provider.base_url
    api_key_env: str | None = None  # None: provider.api_key_env
    repeat: int = 1  # ask the same model several times (self-consistency)
    max_tokens: int | None = None
    temperature: float | None = None
