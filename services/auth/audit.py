"""The audit trail of PIN attempts and operator actions: a capped Redis
Stream per group plus a structured log line (and, for attempts, a metric).
Never holds a PIN."""

import logging

from redis.asyncio import Redis

from services.auth import metrics
from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.logs import fields

log = logging.getLogger(__name__)


class Audit:
    def __init__(self, redis: Redis, maxlen: int, clock: Clock = now_ms) -> None:
        self._redis = redis
        self._maxlen = maxlen
        self._clock = clock

    async def record(self, group: str | None, event: str, **details: str | int) -> None:
        """Append to the group's audit stream and log; ``group`` None (an
        unknown device names no group) only logs."""
        if group is not None:
            entry = {"ts_ms": self._clock(), "event": event, **details}
            await self._redis.xadd(keys.audit(group), entry, maxlen=self._maxlen, approximate=True)
        log.info(event, extra=fields(group=group, **details))

    async def pin_attempt(
        self,
        group: str | None,
        *,
        tenant: str,
        extension: str,
        device: str,
        channel: str,
        result: str,
        retry_after: int,
    ) -> None:
        metrics.PIN_ATTEMPTS.labels(result, metrics.channel_label(channel)).inc()
        await self.record(
            group,
            "pin_attempt",
            tenant=tenant,
            extension=extension,
            device=device,
            channel=channel,
            result=result,
            retry_after=retry_after,
        )
