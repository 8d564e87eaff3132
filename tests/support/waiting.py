"""Waiting in tests for what happens in another process (a NOTIFY at a
phone, a push answered): polled, bounded, and named when it fails."""

import time
from collections.abc import Callable


def wait_for(check: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Until ``check()`` holds; fails naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {within} s"
        time.sleep(0.05)
