"""The import lock of a Redis Cluster, where an import is several
transactions: one import at a time, the others refused. It expires, so an
import that dies does not block the next one for longer than that."""

import contextlib
import secrets
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from services.kernel import keys

LOCK_SECONDS = 300
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ImportConflict(Exception):
    """Concurrent changes kept an import from applying (nothing of it was
    written, unless the message says otherwise); running it again is safe."""


@contextlib.asynccontextmanager
async def import_lock(redis: Redis, seconds: int = LOCK_SECONDS) -> AsyncIterator[None]:
    token = secrets.token_hex(16)
    if not await redis.set(keys.DIR_IMPORT_LOCK, token, nx=True, ex=seconds):
        raise ImportConflict(
            f"another directory import is running (the lock expires within {seconds} s "
            "if it died): run this one again once it has finished"
        )
    try:
        yield
    finally:
        await redis.eval(_RELEASE, 1, keys.DIR_IMPORT_LOCK, token)
