"""argparse types shared by commands whose parsers live in different layers (the CLI's own
parser and `fuse-ls stats`, which telemetry owns): the rule and its words are kept once."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def positive_number(unit: str) -> Callable[[str], float]:
    """An argparse type: a finite number of `unit` (seconds, days) > 0."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of {unit}, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number of {unit} > 0, got {text}")
        return value

    return parse
