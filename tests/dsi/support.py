"""Helpers shared by the DSI tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def assert_fails_within(
    error: type[BaseException], match: str, seconds: float, run: Callable[[], Any]
) -> None:
    """`run()` raises `error` matching `match`, in less than `seconds` (a hang fails too)."""
    start = time.monotonic()
    with pytest.raises(error, match=match):
        run()
    assert time.monotonic() - start < seconds
