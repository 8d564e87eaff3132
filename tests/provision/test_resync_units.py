"""The resync consumer's pure parts: collapsing a batch of changes into one
push per device, and the pacing bucket never running ahead of its rate."""

import time

from services.provision.pacing import TokenBucket
from services.provision.resync import PushJob, collapse


def entry(i: int, device: str, gen: int, ts: int = 0) -> tuple[str, dict[str, str]]:
    return f"{i}-0", {"device": device, "gen": str(gen), "ts_ms": str(ts or 1000 + gen)}


def test_one_push_per_device_at_its_newest_generation() -> None:
    jobs = collapse(
        "g",
        [
            entry(1, "hd1", 4),
            entry(2, "hd2", 7),
            entry(3, "hd1", 6),
            entry(4, "hd1", 5),  # out of order: the newest still wins
            (f"{5}-0", {"device": "hd3", "gen": "x"}),  # malformed: acknowledged, no push
        ],
    )
    assert jobs == [
        PushJob("g", "hd1", 6, 1006, ["1-0", "3-0", "4-0"]),
        PushJob("g", "hd2", 7, 1007, ["2-0"]),
        PushJob("g", "", 0, 0, ["5-0"]),
    ]


async def test_bucket_never_exceeds_its_rate() -> None:
    bucket = TokenBucket(rate=50, burst=1)
    started = time.monotonic()
    for _ in range(11):
        await bucket.take()
    # 1 at once, then 10 at 50/s: at least 0.2 s (a lower bound only: a busy
    # machine may be slower, never faster).
    assert time.monotonic() - started >= 0.19
