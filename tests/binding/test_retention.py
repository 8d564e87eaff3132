"""The groups' streams are bounded by age as well as by length."""

from redis.asyncio import Redis

from services.binding.retention import trim_by_age
from services.kernel import keys

DAY_MS = 86_400_000


async def test_entries_older_than_the_age_go(redis: Redis) -> None:
    now = 400 * DAY_MS
    for group in ("acme-group", "solo"):
        for stream in (keys.events(group), keys.audit(group)):
            # Old enough to fill whole stream nodes (XTRIM ~ drops whole ones).
            for n in range(300):
                await redis.xadd(stream, {"n": n}, id=f"{now - 40 * DAY_MS + n}-0")
            await redis.xadd(stream, {"n": "recent"}, id=f"{now - DAY_MS}-0")
    gone = await trim_by_age(redis, {"acme-group", "solo"}, now, 30 * DAY_MS)
    assert gone > 0
    for group in ("acme-group", "solo"):
        for stream in (keys.events(group), keys.audit(group)):
            entries = await redis.xrange(stream)
            assert entries[-1][1] == {"n": "recent"}
            # 300 old entries fill three whole stream nodes (100 each by
            # default): all three go; the recent entry is in the fourth.
            assert len(entries) == 1
    assert gone == 4 * 300
