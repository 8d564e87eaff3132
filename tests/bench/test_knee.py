"""The capacity benchmark's arithmetic on synthetic steps: which steps
pass, the knee of each path, where to probe next, and the headline."""

from dataclasses import replace

import pytest

from bench.capacity import parse_short_log
from bench.knee import (
    HOTDESK,
    PLAIN,
    Knee,
    Step,
    between,
    cpu_table,
    half_knee_rate,
    headline,
    headline_table,
    knee,
    lookup_table,
    step_table,
)


def step(
    path: str,
    rate: int,
    *,
    completed: int = 1000,
    attempted: int = 1000,
    setup_ms: tuple[float, ...] = (2.0,) * 100,
    sent_rate: float | None = None,
) -> Step:
    return Step(
        path=path,
        rate=rate,
        attempted=attempted,
        completed=completed,
        failed=attempted - completed,
        timed_out=0,
        unexpected=attempted - completed,
        retransmissions=0,
        sent_rate=float(rate) if sent_rate is None else sent_rate,
        setup_ms=setup_ms,
        cpu_seconds={"kamailio": 1.5, "binding": 0.5},
    )


def test_a_step_passes_only_when_completed_fast_and_really_offered() -> None:
    assert step(PLAIN, 100).passes
    assert step(PLAIN, 100, completed=999).passes  # 99.9 % is enough ...
    assert not step(PLAIN, 100, completed=998).passes  # ... 99.8 % is not
    slow_tail = (2.0,) * 98 + (50.0,) * 2  # p99 of 100 samples: the 100th
    assert not step(PLAIN, 100, setup_ms=slow_tail).passes  # 50 ms is not under 50
    assert step(PLAIN, 100, setup_ms=(2.0,) * 99 + (49.9,)).passes
    assert not step(PLAIN, 100, setup_ms=()).passes  # nothing answered
    assert not step(PLAIN, 100, attempted=0, completed=0).passes
    assert not step(PLAIN, 1000, sent_rate=900).passes  # the caller fell behind


def test_knee_is_the_highest_rate_below_the_first_failure() -> None:
    steps = [
        step(PLAIN, 100),
        step(PLAIN, 400),
        step(PLAIN, 200),
        step(PLAIN, 700, completed=990),
        step(PLAIN, 1000),  # passed by luck above a failure: not the knee
        step(HOTDESK, 100),
        step(HOTDESK, 200, setup_ms=(80.0,) * 10),
    ]
    assert knee(steps, PLAIN) == Knee(400, 700)
    assert knee(steps, HOTDESK) == Knee(100, 200)


def test_knee_when_the_ladder_does_not_bracket_it() -> None:
    assert knee([step(PLAIN, 100), step(PLAIN, 200)], PLAIN) == Knee(200, None)
    assert knee([step(PLAIN, 100, completed=0)], PLAIN) == Knee(None, 100)
    assert knee([], PLAIN) == Knee(None, None)


def test_between_probes_the_geometric_middle_until_fine_enough() -> None:
    assert between(Knee(400, 700)) == 530  # sqrt(400 * 700) = 529.2
    assert between(Knee(1000, 1040)) is None  # within 5 %
    assert between(Knee(None, 100)) == 50  # even the lowest step failed: go lower
    assert between(Knee(None, 10)) is None
    assert between(Knee(100, None)) is None
    assert between(Knee(10, 20)) is None  # no multiple of 10 strictly between


def test_headline_ratio_and_added_latency_at_half_the_plain_knee() -> None:
    ladder = [
        step(PLAIN, 1000),
        step(PLAIN, 2000),
        step(PLAIN, 2800, completed=500),
        step(HOTDESK, 1000),
        step(HOTDESK, 1400, completed=900),
    ]
    half = [
        step(PLAIN, 1000, setup_ms=(1.0,) * 99 + (3.0,)),
        step(HOTDESK, 1000, setup_ms=(1.5,) * 99 + (6.0,)),
    ]
    h = headline(ladder, half)
    assert h.ratio == pytest.approx(0.5)
    assert h.half_rate == 1000 == half_knee_rate(h.plain)
    assert h.added_p50_ms == pytest.approx(0.5)
    assert h.added_p99_ms == pytest.approx(3.0)
    text = headline_table(h)
    assert "0.50" in text and "2,000/s (first failing step 2,800/s)" in text


def test_headline_without_a_hot_desk_knee_has_no_ratio() -> None:
    h = headline([step(PLAIN, 100), step(HOTDESK, 100, completed=0)], [])
    assert h.ratio is None
    assert h.added_p50_ms is None
    assert "below the lowest step (100/s failed)" in headline_table(h)


def test_headline_says_when_a_path_was_over_its_knee_at_half_the_plain_knee() -> None:
    ladder = [step(PLAIN, 200), step(PLAIN, 400, completed=0), step(HOTDESK, 50)]
    over = [step(PLAIN, 100), step(HOTDESK, 100, setup_ms=(900.0,) * 10)]
    h = headline(ladder, over)
    assert not h.half_passed
    assert h.added_p50_ms == pytest.approx(898.0)
    assert "(100/s, a path over its knee there)" in headline_table(h)
    assert headline(ladder, [step(PLAIN, 100), step(HOTDESK, 100)]).half_passed


def test_tables_show_every_step_and_cpu_per_completed_call() -> None:
    steps = [
        step(PLAIN, 100),
        replace(step(HOTDESK, 100, completed=500), rerun=True, others_cores=0.75),
    ]
    text = step_table(steps).splitlines()
    assert PLAIN in text[2] and text[2].split()[-2:] == ["yes", "0.00"]
    assert (
        HOTDESK in text[3]
        and "50.00 %" in text[3]
        and text[3].split()[-3:] == ["no", "(rerun)", "0.75"]
    )
    cpu = cpu_table(steps).splitlines()
    # 1.5 CPU-s of Kamailio over 1,000 and 500 completed calls
    assert "1.50" in cpu[2] and "3.00" in cpu[3]
    assert cpu[2].split()[-1] == "2.00"  # all processes together


SHORT_LOG = "\n".join(
    "\t".join(["2026-11-30", "20:00:00.0", at, d, call, cseq, first])
    for at, d, call, cseq, first in [
        ("100.000", "S", "a", "CSeq:1 INVITE", "INVITE sip:1002@hotdesk.local SIP/2.0"),
        ("100.001", "R", "a", "CSeq:1 INVITE", "SIP/2.0 407 Proxy Authentication Required"),
        ("100.002", "S", "a", "CSeq:2 INVITE", "INVITE sip:1002@hotdesk.local SIP/2.0"),
        ("100.500", "S", "b", "CSeq:1 INVITE", "INVITE sip:1002@hotdesk.local SIP/2.0"),
        ("100.502", "S", "a", "CSeq:2 INVITE", "INVITE sip:1002@hotdesk.local SIP/2.0"),
        ("100.505", "R", "a", "CSeq:2 INVITE", "SIP/2.0 200 OK"),
        ("100.506", "R", "a", "CSeq:2 INVITE", "SIP/2.0 200 OK"),
        ("101.000", "S", "c", "CSeq:1 INVITE", "INVITE sip:1002@hotdesk.local SIP/2.0"),
        ("101.001", "S", "b", "CSeq:1 INVITE", "INVITE sip:1002@hotdesk.local SIP/2.0"),
        ("101.100", "R", "c", "CSeq:3 BYE", "SIP/2.0 200 OK"),
    ]
)


def test_short_log_gives_sent_rate_and_setup_from_the_first_authenticated_invite() -> None:
    sent_rate, setup = parse_short_log(SHORT_LOG + "\nnot a message line\n")
    # three calls started over one second (b's retransmission is not a new call)
    assert sent_rate == pytest.approx(2.0)
    # a: first authenticated INVITE at 100.002 (its retransmission counts in
    # the wait), first 200 OK at 100.505; the repeated 200 is not a call
    assert setup == [pytest.approx(503.0)]


def test_lookup_table_splits_kamailio_time_into_handler_and_the_rest() -> None:
    looked_up = replace(
        step(HOTDESK, 200),
        cache_hits=1900,
        lookups_at_kamailio=(0.5, 100),
        lookups_in_binding=(0.2, 100),
    )
    row = lookup_table([looked_up, step(HOTDESK, 400)]).splitlines()[2:]
    assert row[0].split() == ["200", "1,900", "100", "5.00", "2.00", "3.00"]
    assert row[1].split() == ["400", "0", "0", "-", "-", "-"]
