"""Voice-menu benchmark: prompt RTP pacing with 1 call (the baseline of the
same run), then with more calls at once, each listening to the first prompt
for a few seconds through the real edge."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.measure import cpu_seconds, percentile
from tests.support.edge import edge_stack
from tests.support.menu_calls import concurrent_calls


@dataclass(frozen=True)
class MenuRun:
    calls: int
    streams: int
    packets: int
    spacing_errors_ms: list[float]
    cpu_seconds: float  # of the menu service during the run
    seconds: float


def measure(sizes: list[int], seconds: float) -> list[MenuRun]:
    runs = []
    # Every call comes from one desk: the menu's caps are lifted to the load.
    most = str(max([1, *sizes]))
    caps = {"HOTDESK_MENU_MAX_CALLS_PER_DEVICE": most, "HOTDESK_MENU_MAX_CALLS": most}
    with tempfile.TemporaryDirectory() as tmp, edge_stack(Path(tmp), caps) as edge:
        for calls in [1, *sizes]:
            cpu = cpu_seconds(edge.menu.pid)
            rtp, took = concurrent_calls(
                edge.target, calls, Path(tmp) / f"c{calls}", seconds=seconds
            )
            runs.append(
                MenuRun(
                    calls,
                    len(rtp.arrivals),
                    sum(len(t) for t in rtp.arrivals.values()),
                    rtp.spacing_errors_ms(),
                    cpu_seconds(edge.menu.pid) - cpu,
                    took,
                )
            )
    return runs


def p(values: list[float], q: float) -> float:
    return percentile(values, q) if values else float("nan")
