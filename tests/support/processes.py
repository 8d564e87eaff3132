"""Waiting for a process the tests started to serve."""

import subprocess
import time
import urllib.request
from collections.abc import Callable


def wait_until_serving(
    proc: "subprocess.Popen[bytes]",
    url: str,
    *,
    within: float,
    what: str,
    log: Callable[[], str],
) -> None:
    """Poll ``url`` until it answers 2xx; fail with the end of the process's
    log if it exits or is not serving ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start:\n{log()[-3000:]}") from None
            time.sleep(0.1)
