"""Wall-clock time in the unit the Redis schema stores (milliseconds)."""

import time
from collections.abc import Callable

Clock = Callable[[], int]


def now_ms() -> int:
    return time.time_ns() // 1_000_000
