"""The capacity benchmark's arithmetic and report: what one step at an
offered rate gave, which steps pass, the knee of each path, where to probe
next between the last good and the first bad rate, and the headline
(knee ratio, added set-up latency at half the plain knee).

Pure functions on step results: ``bench.capacity`` produces the steps.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.measure import percentile, table

PLAIN = "plain (lookup off)"
HOTDESK = "hot-desk lookup"
PATHS = (PLAIN, HOTDESK)

KNEE_COMPLETED = 0.999  # at least this share of attempted calls completed ...
KNEE_P99_MS = 50.0  # ... with set-up p99 under this ...
KNEE_SENT = 0.95  # ... and the caller really offered the rate (sent / offered)
TARGET_RATIO = 0.90  # the targets, printed beside the figures
TARGET_ADDED_P50_MS = 1.0
TARGET_ADDED_P99_MS = 3.0
CPU_PROCESSES = ("kamailio", "binding", "redis", "answering sipp", "calling sipp")


@dataclass(frozen=True)
class Step:
    """One path at one offered rate for a bounded time."""

    path: str
    rate: int  # offered calls/s
    attempted: int  # calls the caller started
    completed: int  # 200 OK to the authenticated INVITE, then to the BYE
    failed: int  # calls the caller gave up (any reason, timeouts included)
    timed_out: int  # of those: no answer in time (receive timeout, retransmissions spent)
    unexpected: int  # of those: an answer the call does not expect (e.g. 503, 408)
    retransmissions: int  # requests the caller had to send again
    sent_rate: float  # first to last new INVITE: what the caller really offered
    setup_ms: tuple[float, ...]  # authenticated INVITE -> its 200 OK, per answered call
    cpu_seconds: Mapping[str, float] = field(default_factory=dict)  # process -> CPU during the step
    others_cores: float = 0.0  # cores busy with processes not of this run during the step
    rerun: bool = False  # the first try failed while other processes were busy
    # Hot-desk path: seconds and count of the answered lookups during the
    # step, as Kamailio saw them (query -> resumed) and in the binding
    # service's handler (Redis included).
    lookups_at_kamailio: tuple[float, int] = (0.0, 0)
    lookups_in_binding: tuple[float, int] = (0.0, 0)
    # Hot-desk path: calls Kamailio routed from its route cache (no lookup).
    cache_hits: int = 0

    @property
    def completed_ratio(self) -> float:
        return self.completed / self.attempted if self.attempted else 0.0

    @property
    def p50(self) -> float | None:
        return percentile(list(self.setup_ms), 0.5) if self.setup_ms else None

    @property
    def p99(self) -> float | None:
        return percentile(list(self.setup_ms), 0.99) if self.setup_ms else None

    @property
    def passes(self) -> bool:
        """At or under the knee: completed, fast enough, and really offered."""
        return (
            self.completed_ratio >= KNEE_COMPLETED
            and self.p99 is not None
            and self.p99 < KNEE_P99_MS
            and self.sent_rate >= KNEE_SENT * self.rate
        )

    def cpu_ms_per_call(self, process: str) -> float | None:
        if not self.completed or process not in self.cpu_seconds:
            return None
        return self.cpu_seconds[process] * 1000 / self.completed


@dataclass(frozen=True)
class Knee:
    """The highest offered rate that passed with no failing step of the
    same path at or below it (None: the lowest step failed), and the lowest
    failing rate above it (None: the ladder never reached a failure, so
    the knee is at least ``rate``)."""

    rate: int | None
    first_bad: int | None


def knee(steps: Sequence[Step], path: str) -> Knee:
    good: int | None = None
    for step in sorted((s for s in steps if s.path == path), key=lambda s: s.rate):
        if not step.passes:
            return Knee(good, step.rate)
        good = step.rate
    return Knee(good, None)


def between(k: Knee, finest: float = 1.05) -> int | None:
    """The next rate to try between the knee and the first failing rate
    (their geometric mean, to 10 calls/s; half the failing rate when even
    the lowest step failed), or None when they are already within
    ``finest`` of each other or the ladder never failed."""
    if k.first_bad is None:
        return None
    if k.rate is None:
        half = round(k.first_bad / 2, -1)
        return int(half) if half >= 10 else None
    if k.first_bad <= k.rate * finest:
        return None
    mid = round(math.sqrt(k.rate * k.first_bad), -1)
    return int(mid) if k.rate < mid < k.first_bad else None


@dataclass(frozen=True)
class Headline:
    plain: Knee
    hotdesk: Knee
    half_rate: int | None  # half the plain knee, where both paths ran once more
    added_p50_ms: float | None  # hot-desk minus plain at half_rate
    added_p99_ms: float | None
    half_passed: bool  # both paths were under their knee at half_rate

    @property
    def ratio(self) -> float | None:
        if self.plain.rate is None or self.hotdesk.rate is None:
            return None
        return self.hotdesk.rate / self.plain.rate


def half_knee_rate(plain: Knee) -> int | None:
    return plain.rate // 2 if plain.rate and plain.rate >= 2 else None


def headline(ladder: Sequence[Step], half: Sequence[Step]) -> Headline:
    """Knees from the ladder's steps; the added latency from ``half``, the
    steps of both paths at half the plain knee."""
    plain = knee(ladder, PLAIN)
    at_half = {s.path: s for s in half}
    added: list[float | None] = [None, None]
    passed = False
    if PLAIN in at_half and HOTDESK in at_half:
        p, h = at_half[PLAIN], at_half[HOTDESK]
        passed = p.passes and h.passes
        if p.setup_ms and h.setup_ms:
            added = [
                percentile(list(h.setup_ms), q) - percentile(list(p.setup_ms), q)
                for q in (0.5, 0.99)
            ]
    return Headline(plain, knee(ladder, HOTDESK), half_knee_rate(plain), added[0], added[1], passed)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def step_table(steps: Sequence[Step]) -> str:
    rows = [
        [
            s.path,
            f"{s.rate:,}",
            f"{s.sent_rate:,.0f}",
            f"{s.attempted:,}",
            f"{s.completed:,}",
            f"{s.completed_ratio * 100:.2f} %",
            f"{s.failed:,}",
            f"{s.timed_out:,}",
            f"{s.unexpected:,}",
            f"{s.retransmissions:,}",
            _ms(s.p50),
            _ms(s.p99),
            ("yes" if s.passes else "no") + (" (rerun)" if s.rerun else ""),
            f"{s.others_cores:.2f}",
        ]
        for s in steps
    ]
    return table(
        [
            "path",
            "offered/s",
            "sent/s",
            "attempted",
            "completed",
            "completed %",
            "failed",
            "timed out",
            "unexpected",
            "retrans",
            "setup p50 ms",
            "setup p99 ms",
            "under knee",
            "others' cores",
        ],
        rows,
    )


def cpu_table(steps: Sequence[Step]) -> str:
    rows = []
    for s in steps:
        per_call = [s.cpu_ms_per_call(p) for p in CPU_PROCESSES]
        known = [v for v in per_call if v is not None]
        rows.append(
            [
                s.path,
                f"{s.rate:,}",
                *(_ms(v) for v in per_call),
                _ms(sum(known) if known else None),
            ]
        )
    return table(
        ["CPU ms per completed call", "offered/s", *CPU_PROCESSES, "all"],
        rows,
    )


def _mean_ms(total: tuple[float, int]) -> float | None:
    seconds, count = total
    return seconds / count * 1000 if count else None


def lookup_table(steps: Sequence[Step]) -> str:
    """Where a lookup's time goes, per hot-desk step: the calls routed from
    Kamailio's route cache instead, then the lookups' mean as Kamailio sees
    it, the binding service's handler, and the difference (HTTP on both
    sides, the async worker's queue and the transaction's resume)."""
    rows = []
    for s in steps:
        at_kamailio, in_binding = _mean_ms(s.lookups_at_kamailio), _mean_ms(s.lookups_in_binding)
        rest = None if at_kamailio is None or in_binding is None else at_kamailio - in_binding
        rows.append(
            [
                f"{s.rate:,}",
                f"{s.cache_hits:,}",
                f"{s.lookups_at_kamailio[1]:,}",
                *map(_ms, (at_kamailio, in_binding, rest)),
            ]
        )
    return table(
        [
            "hot-desk offered/s",
            "from cache",
            "lookups",
            "mean at Kamailio ms",
            "binding handler ms",
            "HTTP, queues, resume ms",
        ],
        rows,
    )


def _knee_text(k: Knee) -> str:
    if k.rate is None:
        return f"below the lowest step ({k.first_bad:,}/s failed)"
    if k.first_bad is None:
        return f">= {k.rate:,}/s (the ladder's top passed: not bracketed)"
    return f"{k.rate:,}/s (first failing step {k.first_bad:,}/s)"


def headline_table(h: Headline) -> str:
    ratio = "-" if h.ratio is None else f"{h.ratio:.2f}"
    if h.plain.first_bad is None or h.hotdesk.first_bad is None:
        ratio += " (a knee not bracketed)" if h.ratio is not None else ""
    half = "-" if h.half_rate is None else f"{h.half_rate:,}/s"
    if h.half_rate is not None and not h.half_passed:
        half += ", a path over its knee there"
    return table(
        ["same run", "value", "target"],
        [
            ["knee, plain", _knee_text(h.plain), ""],
            ["knee, hot-desk", _knee_text(h.hotdesk), ""],
            ["knee ratio hot-desk / plain", ratio, f">= {TARGET_RATIO:.2f}"],
            [
                f"added set-up p50 ms at half the plain knee ({half})",
                _ms(h.added_p50_ms),
                f"<= {TARGET_ADDED_P50_MS:.0f}",
            ],
            [
                f"added set-up p99 ms at half the plain knee ({half})",
                _ms(h.added_p99_ms),
                f"<= {TARGET_ADDED_P99_MS:.0f}",
            ],
        ],
    )


def report(ladder: Sequence[Step], half: Sequence[Step]) -> str:
    """What ``make bench`` prints: the steps by rate (both paths side by
    side), CPU per call, the steps at half the plain knee, the headline."""

    def by_rate(steps: Sequence[Step]) -> list[Step]:
        return sorted(steps, key=lambda s: (s.rate, s.path != PLAIN))

    parts = [
        "Open-loop calls at stepped rates (INVITE/407/INVITE/200/ACK/BYE; under the knee: "
        f">= {KNEE_COMPLETED * 100:.1f} % completed, set-up p99 < {KNEE_P99_MS:.0f} ms, "
        f">= {KNEE_SENT * 100:.0f} % of the rate really offered)",
        step_table(by_rate(ladder)),
        "",
        cpu_table(by_rate(ladder)),
        "",
        lookup_table([s for s in by_rate(ladder) if s.path == HOTDESK]),
    ]
    if half:
        parts += ["", "Both paths at half the plain knee", step_table(by_rate(half))]
    parts += ["", headline_table(headline(ladder, half))]
    return "\n".join(parts)
