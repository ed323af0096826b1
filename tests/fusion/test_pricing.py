from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core.types import Endpoint, Usage
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.pricing import ModelInfo, PriceBook, estimate_prompt_tokens, parse_models
from fuse_ls.fusion.provider import ChatClient

RAW = {
    "data": [
        {
            "id": "a/one",
            "name": "One",
            "context_length": 1000,
            "pricing": {
                "prompt": "0.000002",
                "completion": "0.00001",
                "request": "0.001",
                "input_cache_read": "0.0000005",
            },
        },
        {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}},
        {"id": "free/model:free", "pricing": {"prompt": "0", "completion": "0"}},
        {"name": "no id"},
        "junk",
    ]
}


def test_parse_models() -> None:
    models = {m.id: m for m in parse_models(RAW)}
    assert set(models) == {"a/one", "openrouter/auto", "free/model:free"}
    one = models["a/one"]
    assert (one.name, one.context_length) == ("One", 1000)
    assert one.prompt_price == pytest.approx(2e-6) and one.request_price == pytest.approx(1e-3)
    assert models["openrouter/auto"].prompt_price is None  # variable pricing: unknown
    assert parse_models({"data": "nope"}) == [] and parse_models(None) == []


def test_cost_and_estimate() -> None:
    book = PriceBook()
    book.add("http://x/api/v1/", parse_models(RAW))
    usage = Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=400)
    expected = 600 * 2e-6 + 400 * 5e-7 + 100 * 1e-5 + 1e-3
    assert book.cost("a/one", usage) == pytest.approx(expected)
    assert book.cost("a/one", usage, "http://x/api/v1") == pytest.approx(expected)
    assert book.cost("a/one:nitro", usage) == pytest.approx(expected)  # routing variant
    assert book.cost("free/model:free", usage) == 0.0
    assert book.cost("openrouter/auto", usage) is None
    assert book.cost("unknown/model", usage) is None
    assert book.cost("a/one", usage, "http://elsewhere/v1") is None
    # 700 chars -> ceil(700 / 3.5) = 200 prompt tokens.
    assert book.estimate("a/one", "x" * 700, 50) == pytest.approx(200 * 2e-6 + 50 * 1e-5 + 1e-3)
    assert book.estimate("a/one", 200, 50) == book.estimate("a/one", "x" * 700, 50)
    assert book.estimate("a/one", "abc", None) is not None
    assert book.estimate("unknown/model", "abc", 10) is None
    assert estimate_prompt_tokens("x" * 8) == 3


async def test_load_from_emulator_and_ttl(emulator: Emulator) -> None:
    calls: list[str] = []
    async with ChatClient(timeouts=TimeoutSettings(), retries=RetrySettings()) as client:

        async def fetch(endpoint: Endpoint) -> list[ModelInfo]:
            calls.append(endpoint.base_url)
            return await client.list_models(endpoint)

        now = [1000.0]
        book = PriceBook(fetch, ttl_s=60, clock=lambda: now[0])
        endpoint = Endpoint(base_url=emulator.base_url)
        results = await asyncio.gather(*(book.load(endpoint) for _ in range(10)))
        assert all(results) and len(calls) == 1  # concurrent loads share one fetch
        info = book.price_for("openai/gpt-5", emulator.base_url)
        assert info is not None and info.prompt_price == pytest.approx(1.25e-6)
        assert await book.load(endpoint) and len(calls) == 1
        now[0] += 61
        assert await book.load(endpoint) and len(calls) == 2


async def test_unreachable_models_gives_none_and_backs_off() -> None:
    calls = 0

    async def fetch(endpoint: Endpoint) -> list[ModelInfo]:
        nonlocal calls
        calls += 1
        raise OSError("down")

    book = PriceBook(fetch)
    endpoint = Endpoint(base_url="http://127.0.0.1:9/api/v1")
    assert await book.load(endpoint) is False
    assert await book.load(endpoint) is False
    assert calls == 1  # failures are remembered for a while
    assert book.cost("a/one", Usage(prompt_tokens=1)) is None
    assert await PriceBook().load(endpoint) is False  # no fetcher at all


async def test_disk_cache(tmp_path: Path) -> None:
    async def fetch(endpoint: Endpoint) -> list[ModelInfo]:
        return parse_models(RAW)

    endpoint = Endpoint(base_url="http://x/api/v1")
    assert await PriceBook(fetch, cache_dir=tmp_path).load(endpoint)

    async def fail(endpoint: Endpoint) -> list[ModelInfo]:
        raise AssertionError("should use the disk cache")

    cold = PriceBook(fail, cache_dir=tmp_path)
    assert await cold.load(endpoint)
    assert cold.price_for("a/one") == parse_models(RAW)[0]


async def test_client_binds_its_fetcher(emulator: Emulator) -> None:
    book = PriceBook()
    async with ChatClient(
        timeouts=TimeoutSettings(), retries=RetrySettings(), prices=book
    ) as client:
        assert book.has_fetcher and client.prices is book
        assert await book.load(Endpoint(base_url=emulator.base_url))
    assert book.price_for("google/gemini-2.5-pro") is not None
