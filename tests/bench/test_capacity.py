"""The capacity benchmark against the real stack (Redis, the binding
service, two Kamailio edges, sipp), in two tiny steps between three
pairs of desks: its report has both paths with calls completed. Nothing
here looks at a time or a rate."""

from bench.capacity import measure
from bench.knee import HOTDESK, PATHS, PLAIN, report


def test_two_tiny_steps_complete_calls_on_both_paths() -> None:
    capacity = measure([10, 20], seconds=1, refine=0, desks=3)
    assert {s.path for s in capacity.ladder} == set(PATHS)
    for step in capacity.ladder + capacity.half:
        assert step.attempted > 0
        assert step.completed > 0, step
        # Every completed call's set-up was found in sipp's log (a count: the
        # times themselves are the benchmark's to report, never a test's).
        assert len(step.setup_ms) >= step.completed
        assert step.cpu_seconds.keys() == {
            "kamailio",
            "binding",
            "redis",
            "answering sipp",
            "calling sipp",
        }
    text = report(capacity.ladder, capacity.half)
    step_rows = [line for line in text.splitlines() if line.lstrip().startswith((PLAIN, HOTDESK))]
    assert any(PLAIN in line for line in step_rows)
    assert any(HOTDESK in line for line in step_rows)
    assert "knee ratio hot-desk / plain" in text
