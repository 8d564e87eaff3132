"""Following the binding's event streams (``keys.events``, one per group)
from positions kept in Redis: a hash of stream -> the last entry id taken.
The occupancy report and the webhooks' feed each keep their own, so a
restart, or a second admin instance, goes on where the last one stopped.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.kernel import keys
from services.kernel.logs import fields
from services.kernel.tenants import TenantCache

log = logging.getLogger(__name__)

Entries = list[tuple[str, dict[str, str]]]  # one stream's entries: (id, fields)

# Where a stream with no kept position is read from: its first entry.
START = "0-0"
_RETRY_SECONDS = 1.0


def event_streams(tenants: TenantCache) -> list[str]:
    """Every group's event stream."""
    return sorted({keys.events(t.group) for t in tenants.by_id.values()})


async def unread(
    redis: Redis, positions: str, streams: list[str], count: int
) -> AsyncIterator[tuple[str, str, Entries]]:
    """Up to ``count`` entries of each stream after its position in the hash
    ``positions``: (stream, that position, entries), streams with nothing
    new left out. One stream at a time: each group's has its own hash slot."""
    kept = await redis.hgetall(positions)
    for stream in streams:
        position = kept.get(stream, START)
        for _, entries in await redis.xread({stream: position}, count=count) or []:
            if entries:
                yield stream, position, entries


async def last_ids(redis: Redis, streams: list[str]) -> dict[str, str]:
    """Each stream's newest entry id (``START`` for an empty one)."""
    async with redis.pipeline(transaction=False) as pipe:
        for stream in streams:
            pipe.xrevrange(stream, "+", "-", count=1)
        replies = await pipe.execute()
    return {s: (r[0][0] if r else START) for s, r in zip(streams, replies, strict=True)}


async def follow(catch_up: Callable[[], Awaitable[bool]], poll_seconds: float, failed: str) -> None:
    """``catch_up`` until cancelled: at once again while it finds entries,
    after ``poll_seconds`` when it found none; a Redis error is logged as
    ``failed`` and waited out."""
    while True:
        try:
            if not await catch_up():
                await asyncio.sleep(poll_seconds)
        except (RedisError, OSError) as exc:
            log.warning(failed, extra=fields(error=str(exc)))
            await asyncio.sleep(_RETRY_SECONDS)
