"""Shared fixtures: a model emulator on loopback (see fuse_ls/emulator/README.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from fuse_ls.emulator import Emulator, EmulatorScript

EmulatorFactory = Callable[..., Emulator]


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
