"""Free loopback ports for the processes a test starts.

Ports come from 10000-19999, below Linux's ephemeral range (32768-60999 by
default): a port the kernel picked for us (bind to 0) is in the range it
also gives every outgoing connection, and on a busy machine one of those
could take it between the check and the server's bind. A port is handed
out once per test process, and only after binding it worked for each
transport asked for. Under pytest-xdist each worker takes its own share of
the range (``PYTEST_XDIST_WORKER``: gw0, gw1, ...), so two workers never
pick the same port between one's check and its server's bind."""

import os
import random
import socket

_FIRST, _LAST = 10_000, 19_999


def worker_share(first: int, last: int) -> tuple[int, int]:
    """This pytest-xdist worker's share of the ports ``first``..``last``
    (all of them without xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2:
        return first, last
    share = (last - first + 1) // count
    start = first + int(worker[2:]) * share
    return start, start + share - 1


_RANGE = worker_share(_FIRST, _LAST)
_handed_out: set[int] = set()


def bindable(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(*, tcp: bool = True, udp: bool = False, span: int = 1) -> int:
    """A port free for TCP and/or UDP on 127.0.0.1 (with ``span``: the
    first of that many in a row, all free)."""
    kinds = [k for k, wanted in ((socket.SOCK_STREAM, tcp), (socket.SOCK_DGRAM, udp)) if wanted]
    for _ in range(500):
        first = random.randint(_RANGE[0], _RANGE[1] - span + 1)
        ports = range(first, first + span)
        if not _handed_out.intersection(ports) and all(
            bindable(port, k) for port in ports for k in kinds
        ):
            _handed_out.update(ports)
            return first
    raise RuntimeError(f"no {span} free port(s) in a row in {_RANGE}")


def free_media_port() -> int:
    """sipp's ``-mp``: it binds that port and the next three (RTP and RTCP,
    audio and video)."""
    return free_port(tcp=False, udp=True, span=4)
