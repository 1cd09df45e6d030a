"""Argument checks shared by the public entry points: a clear `ValueError` naming the argument.

Standard library only, so the reference, the DSI simulator, the audit and the engine can all
use them. Booleans are refused where a number is expected (`True` is an `int` to Python, never
a count or a probability to a user), and NaN and the infinities fail every range.
"""

from __future__ import annotations

import math
import numbers

#: Largest seed accepted (numpy and torch both take seeds below 2**63 - 1 as one word).
MAX_SEED = 2**63 - 1


def check_int(value: object, what: str, low: int = 1, high: int | None = None) -> int:
    """`value` as an int if it is an integer in `[low, high]`, else raise naming `what`.

    Raises:
        ValueError: if `value` is a bool, not an integer, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{what} must be an int >= {low}, got {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{what} must be an int {bound}, got {value!r}")
    return number


def check_seed(value: object, what: str = "seed") -> int:
    """A seed: an int in `[0, 2**63 - 1]`.

    Raises:
        ValueError: naming `what` otherwise.
    """
    return check_int(value, what, 0, MAX_SEED)


def check_real(
    value: object,
    what: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """`value` as a float if it is a real number in the interval, else raise naming `what`.

    Raises:
        ValueError: if `value` is a bool, not a real number, NaN, or outside the interval.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number, got {value!r}")
    number = float(value)
    inside = (low < number if low_open else low <= number) and (
        number < high if high_open else number <= high
    )
    if math.isnan(number) or not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{what} must lie in {interval}, got {value!r}")
    return number
