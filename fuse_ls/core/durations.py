"""Durations as the user reads them in notes and errors ("the 4.5s fusion deadline")."""

from __future__ import annotations

import math


def seconds_text(seconds: float) -> str:
    """`4.5s`, `60s`; below a tenth of a second, down to its first significant digit
    (`0.04s`, `0.000001s`): a deadline of a microsecond must not read as "0s"."""
    if seconds >= 0.1 or seconds <= 0 or not math.isfinite(seconds):
        return f"{round(seconds, 1):g}s"
    digits = -math.floor(math.log10(seconds))
    # Rounding can carry into the digit above (0.0096 -> 0.01): fixed-point output, not
    # `:g`, which would switch to "1e-06" notation.
    return f"{round(seconds, digits):.{digits}f}".rstrip("0").rstrip(".") + "s"
