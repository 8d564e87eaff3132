"""Failed file digests, counted per MAC (named in the requested path) and per
client address, in Redis so that every instance sees every failure.

At the limit, every request of that MAC or address is refused until its
window ends, valid credentials included: a guesser must not learn that a
late guess was right. The MAC counted is the path's, looked up nowhere, so
known and unknown MACs are limited alike.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from services.kernel import keys
from services.kernel.batch import Batch
from services.kernel.lua import register

Scope = Literal["mac", "address"]


@dataclass(frozen=True)
class Limited:
    scope: Scope  # which limit was reached
    retry_after: int  # seconds until its window ends


class DigestFailures:
    def __init__(self, redis: Redis, per_mac: int, per_address: int, window_seconds: int) -> None:
        self._redis = redis
        self._limits: dict[Scope, int] = {"mac": per_mac, "address": per_address}
        self._window_ms = window_seconds * 1000
        self._count: AsyncScript = register(redis, "services.provision", "failures.lua")

    def limit(self, scope: Scope) -> int:
        return self._limits[scope]

    @staticmethod
    def counted(mac: str, address: str) -> list[tuple[Scope, str]]:
        """The counters a request of ``mac`` from ``address`` is held to."""
        counted: list[tuple[Scope, str]] = [("mac", keys.provision_digest_failures_mac(mac))]
        if address:
            counted.append(("address", keys.provision_digest_failures_ip(address)))
        return counted

    def queue(self, pipe: Batch, mac: str, address: str) -> int:
        """Queue the reads ``limit_of`` decodes; how many replies they give."""
        counted = self.counted(mac, address)
        for _, key in counted:
            pipe.get(key)
        return len(counted)

    async def limit_of(self, mac: str, address: str, replies: Sequence[Any]) -> Limited | None:
        """The limit this request is over, if any (the MAC's first), from the
        replies ``queue`` asked for (a refused request then reads when its
        window ends: one more round trip, for refusals only)."""
        counted = self.counted(mac, address)
        for (scope, key), count in zip(counted, replies, strict=True):
            if count is not None and int(count) >= self._limits[scope]:
                ttl_ms = await self._redis.pttl(key)
                seconds = math.ceil(ttl_ms / 1000) if ttl_ms > 0 else self._window_ms // 1000
                return Limited(scope, max(1, seconds))
        return None

    async def failed(self, mac: str, address: str) -> None:
        for _, key in self.counted(mac, address):
            await self._count(keys=[key], args=[self._window_ms])
