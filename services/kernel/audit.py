"""The audit trail of operator and user actions: a capped Redis Stream per
group plus a structured log line, both with the request's correlation id.
Never holds a PIN or a secret."""

import logging

from redis.asyncio import Redis

from services.kernel import correlation, keys
from services.kernel.clock import Clock, now_ms
from services.kernel.logs import fields

log = logging.getLogger(__name__)


class AuditTrail:
    def __init__(self, redis: Redis, maxlen: int, clock: Clock = now_ms) -> None:
        self._redis = redis
        self._maxlen = maxlen
        self._clock = clock

    async def record(self, group: str | None, event: str, **details: str | int) -> None:
        """Append to the group's audit stream and log; ``group`` None (an
        unknown device names no group) only logs."""
        if group is not None:
            entry = {"ts_ms": self._clock(), "event": event, **details}
            cid = correlation.current.get()
            if cid:
                entry["correlation_id"] = cid
            await self._redis.xadd(keys.audit(group), entry, maxlen=self._maxlen, approximate=True)
        log.info(event, extra=fields(group=group, **details))
