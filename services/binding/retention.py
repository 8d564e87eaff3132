"""The groups' event and audit streams are capped by length when written
(XADD MAXLEN ~); this bounds them by age too, so that a quiet group does
not keep years of entries and memory stays predictable. A provision
service that stays down for longer than the age loses the oldest changes
(the phones' next fetch still gets the current files)."""

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.kernel import keys
from services.kernel.clock import Clock
from services.kernel.logs import fields
from services.kernel.tenants import TenantCache

log = logging.getLogger(__name__)


async def trim_by_age(redis: Redis, groups: set[str], now_ms: int, max_age_ms: int) -> int:
    """Drop entries older than ``max_age_ms`` (approximately: whole stream
    nodes) from every group's streams; how many went."""
    oldest = max(now_ms - max_age_ms, 0)
    async with redis.pipeline(transaction=False) as pipe:
        for group in sorted(groups):
            for stream in (keys.events(group), keys.audit(group)):
                pipe.xtrim(stream, minid=f"{oldest}-0", approximate=True)
        trimmed: list[int] = await pipe.execute()
    return sum(trimmed)


async def run_trimmer(
    redis: Redis, tenants: TenantCache, clock: Clock, max_age_s: float, interval: float
) -> None:
    while True:
        await asyncio.sleep(interval)
        groups = {t.group for t in tenants.by_id.values()}
        try:
            gone = await trim_by_age(redis, groups, clock(), int(max_age_s * 1000))
        except (RedisError, OSError) as exc:
            log.warning("stream_trim_failed", extra=fields(error=str(exc)))
            continue
        if gone:
            log.info("streams_trimmed", extra=fields(entries=gone, max_age_s=max_age_s))
