"""Shared fixtures: a model emulator on loopback (see fuse_ls/emulator/README.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from fuse_ls.emulator import Emulator, EmulatorScript

EmulatorFactory = Callable[..., Emulator]

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def pytest_configure(config: pytest.Config) -> None:
    # Model calls honour the proxy variables. A machine that sets them to reach the
    # package registries must not carry a test's call to a remote host name through
    # them: without them that call fails at once, which is what such tests expect.
    # Servers, editors and CLIs the tests start inherit this environment.
    for name in _PROXY_VARIABLES:
        os.environ.pop(name, None)
        os.environ.pop(name.lower(), None)


@pytest.fixture
def emulator_factory() -> Iterator[EmulatorFactory]:
    """`make(script=None, *, require_key=None)` starts an emulator thread; all stop after."""
    started: list[Emulator] = []

    def make(script: EmulatorScript | Mapping[str, Any] | None = None, **kwargs: Any) -> Emulator:
        emulator = Emulator(script, **kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    """An emulator with default behaviour; change it with `emulator.set_script(...)`."""
    return emulator_factory()
