"""Model prices from `GET {base}/models`, cached per base URL, for costs and budget estimates.

Nothing here raises on a missing price: an unknown model, a server without `/models` or a
network failure all give `None`, and callers decide what an unknown cost means.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import asdict, frozen

from fuse_ls.core.paths import private_dir
from fuse_ls.core.types import Endpoint, Usage

log = logging.getLogger(__name__)

ModelFetcher = Callable[[Endpoint], Awaitable[list["ModelInfo"]]]

# Code and English prose run ~3.5-4.5 chars per token with current tokenizers; dividing by
# the low end over-counts tokens, so a budget check errs on the side of refusing.
CHARS_PER_TOKEN = 3.5
# When a call sets no max_tokens the completion length is unknown; this is a typical
# ceiling for a review/explain answer, so estimates stay comparable between models.
DEFAULT_COMPLETION_TOKENS = 2048
# After a failed /models fetch, do not ask again for a while: hundreds of concurrent
# fusions must not each hammer an endpoint that is down.
FAILURE_BACKOFF_S = 60.0


@frozen
class ModelInfo:
    """One entry of `/models`. Prices are USD per token (per request for `request_price`)."""

    id: str
    name: str = ""
    context_length: int | None = None
    prompt_price: float | None = None
    completion_price: float | None = None
    request_price: float = 0.0
    cache_read_price: float | None = None
    cache_write_price: float | None = None

    @classmethod
    def from_openrouter(cls, raw: Mapping[str, Any]) -> ModelInfo | None:
        model_id = raw.get("id")
        if not isinstance(model_id, str) or not model_id:
            return None
        pricing = raw.get("pricing")
        prices: Mapping[str, Any] = pricing if isinstance(pricing, Mapping) else {}
        context = raw.get("context_length")
        name = raw.get("name")
        return cls(
            id=model_id,
            name=name if isinstance(name, str) else "",
            context_length=context if isinstance(context, int) and context > 0 else None,
            prompt_price=_price(prices.get("prompt")),
            completion_price=_price(prices.get("completion")),
            request_price=_price(prices.get("request")) or 0.0,
            cache_read_price=_price(prices.get("input_cache_read")),
            cache_write_price=_price(prices.get("input_cache_write")),
        )

    def cost(self, usage: Usage) -> float | None:
        if self.prompt_price is None or self.completion_price is None:
            return None
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
        fresh = usage.prompt_tokens - cached - written
        read_price = self.prompt_price if self.cache_read_price is None else self.cache_read_price
        write_price = (
            self.prompt_price if self.cache_write_price is None else self.cache_write_price
        )
        # OpenRouter counts reasoning tokens inside completion_tokens, billed at the same rate.
        return (
            fresh * self.prompt_price
            + cached * read_price
            + written * write_price
            + usage.completion_tokens * self.completion_price
            + self.request_price
        )


def _price(value: object) -> float | None:
    """OpenRouter sends prices as decimal strings; "-1" marks variable pricing (routers)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        price = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if math.isnan(price) or math.isinf(price) or price < 0:
        return None
    return price


# Model families sold only by the token through their makers' APIs: no open weights
# to run at home. `gpt-oss`, Gemma, Llama, Qwen, DeepSeek and Mistral models are run
# locally, so their names say nothing about a bill.
_PAID_FAMILY = re.compile(r"(gpt-(3\.5|4|5)|chatgpt-|o[1-9](-|$)|claude-|gemini-|grok-)", re.I)


def names_paid_model(model_id: str) -> bool:
    """Whether `model_id` names a model only a paid API serves (`openai/gpt-4o`,
    `claude-sonnet-4-5`, Bedrock's `anthropic.claude-3-haiku`), whatever the endpoint:
    a proxy on this machine (LiteLLM, a gateway) forwards it and lists no price, yet each
    call is billed."""
    name = model_id.rsplit("/", 1)[-1]
    vendor, dot, rest = name.partition(".")
    return bool(_PAID_FAMILY.match(name) or (dot and vendor.isalpha() and _PAID_FAMILY.match(rest)))


def unpriced_note(models: Sequence[str], before: str) -> str:
    """Why the cost of a `before` ("call", "run") could not be estimated: the models a
    remote endpoint lists no price for, and paid ones a local proxy forwards (models run
    on this machine cost nothing and are not named)."""
    names = ", ".join(models[:3]) + (f" and {len(models) - 3} more" if len(models) > 3 else "")
    return f"cost could not be estimated before the {before} (no price for {names or 'a model'})"


def parse_models(payload: object) -> list[ModelInfo]:
    """Parse a `/models` body (`{"data": [...]}`); malformed entries are skipped."""
    data = payload.get("data") if isinstance(payload, Mapping) else payload
    if not isinstance(data, list):
        return []
    models = []
    for raw in data:
        if isinstance(raw, Mapping):
            info = ModelInfo.from_openrouter(raw)
            if info is not None:
                models.append(info)
    return models


def estimate_prompt_tokens(prompt: str | int) -> int:
    """A str is prompt text (chars are counted); an int is already a token count."""
    if isinstance(prompt, int):
        return max(prompt, 0)
    return math.ceil(len(prompt) / CHARS_PER_TOKEN)


class PriceBook:
    """In-memory (optionally on-disk) cache of `/models` per base URL.

    `load()` is async and fetches when the cache is stale; `price_for`, `cost` and
    `estimate` are sync and only read what is cached, so they are cheap on hot paths.
    """

    def __init__(
        self,
        fetch: ModelFetcher | None = None,
        *,
        ttl_s: float = 3600.0,
        cache_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._cache_dir = cache_dir
        self._clock = clock
        self._models: dict[str, dict[str, ModelInfo]] = {}
        self._fetched_at: dict[str, float] = {}
        self._failed_at: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Future[bool]] = {}

    def __repr__(self) -> str:
        return f"PriceBook(base_urls={sorted(self._models)!r}, ttl_s={self._ttl_s})"

    @property
    def has_fetcher(self) -> bool:
        return self._fetch is not None

    def bind(self, fetch: ModelFetcher) -> None:
        """Give the book a way to fetch, unless it already has one."""
        if self._fetch is None:
            self._fetch = fetch

    def add(self, base_url: str, models: list[ModelInfo]) -> None:
        """Install a price list directly (tests, or prices known from elsewhere)."""
        key = _key(base_url)
        self._models[key] = {m.id: m for m in models}
        self._fetched_at[key] = self._clock()

    def is_fresh(self, base_url: str) -> bool:
        key = _key(base_url)
        fetched = self._fetched_at.get(key)
        return fetched is not None and self._clock() - fetched < self._ttl_s

    async def load(self, endpoint: Endpoint, *, force: bool = False) -> bool:
        """Make sure prices for `endpoint` are cached. True when some are available."""
        key = _key(endpoint.base_url)
        if not force and self.is_fresh(key):
            return True
        if not force and self._load_from_disk(key):
            return True
        failed = self._failed_at.get(key)
        if not force and failed is not None and self._clock() - failed < FAILURE_BACKOFF_S:
            return key in self._models
        if self._fetch is None:
            return key in self._models
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            ok = await self._refresh(key, endpoint)
            future.set_result(ok)
            return ok
        except BaseException:
            future.set_result(key in self._models)
            raise
        finally:
            del self._inflight[key]

    async def _refresh(self, key: str, endpoint: Endpoint) -> bool:
        assert self._fetch is not None
        try:
            models = await self._fetch(endpoint)
        except Exception as exc:  # any failure only means "prices unknown"
            log.info("could not load prices from %s: %s", key, exc)
            self._failed_at[key] = self._clock()
            return key in self._models
        self.add(key, models)
        self._failed_at.pop(key, None)
        self._save_to_disk(key, models)
        return True

    def models(self, base_url: str) -> list[ModelInfo]:
        return list(self._models.get(_key(base_url), {}).values())

    def price_for(self, model_id: str, base_url: str | None = None) -> ModelInfo | None:
        books = (
            [self._models.get(_key(base_url), {})]
            if base_url is not None
            else list(self._models.values())
        )
        # `model:nitro` / `model:floor` are routing variants priced like the base model.
        candidates = [model_id]
        if ":" in model_id:
            candidates.append(model_id.split(":", 1)[0])
        for candidate in candidates:
            for book in books:
                info = book.get(candidate)
                if info is not None:
                    return info
        if base_url is not None and names_paid_model(model_id):
            # Its endpoint (a proxy) lists no price, yet the model is billed: the price
            # another endpoint lists for it (OpenRouter's for the judge) is the one known.
            name = model_id.rsplit("/", 1)[-1]
            others = [b for key, b in self._models.items() if key != _key(base_url)]
            for book in others:
                info = book.get(model_id) or next(
                    (i for i in book.values() if i.id.rsplit("/", 1)[-1] == name), None
                )
                if info is not None:
                    return info
        return None

    def cost(self, model_id: str, usage: Usage, base_url: str | None = None) -> float | None:
        info = self.price_for(model_id, base_url)
        return None if info is None else info.cost(usage)

    def estimate(
        self,
        model_id: str,
        prompt: str | int,
        max_tokens: int | None = None,
        base_url: str | None = None,
    ) -> float | None:
        """Worst-case USD for one call: `prompt` is the prompt text or its token count."""
        info = self.price_for(model_id, base_url)
        if info is None:
            return None
        prompt_tokens = estimate_prompt_tokens(prompt)
        completion = DEFAULT_COMPLETION_TOKENS if max_tokens is None else max(max_tokens, 0)
        return info.cost(Usage(prompt_tokens=prompt_tokens, completion_tokens=completion))

    # --- optional disk cache: lets a fresh editor session estimate without a fetch ------

    def _disk_path(self, key: str) -> Path | None:
        if self._cache_dir is None:
            return None
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self._cache_dir / f"models-{digest}.json"

    def _load_from_disk(self, key: str) -> bool:
        path = self._disk_path(key)
        if path is None or key in self._models:
            return False
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            fetched_at = float(saved["fetched_at"])
            if saved.get("base_url") != key or self._clock() - fetched_at >= self._ttl_s:
                return False
            models = [ModelInfo(**raw) for raw in saved["models"]]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        self._models[key] = {m.id: m for m in models}
        self._fetched_at[key] = fetched_at
        return True

    def _save_to_disk(self, key: str, models: list[ModelInfo]) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        payload = {
            "base_url": key,
            "fetched_at": self._clock(),
            "models": [asdict(m) for m in models],
        }
        try:
            private_dir(path.parent)  # not secret, but it may create the data dir
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            log.info("could not write price cache %s: %s", path, exc)


def _key(base_url: str) -> str:
    return base_url.rstrip("/")
