"""Backoff and lockout for PIN guessing, kept in Redis.

Two counters per attempt: user+device (so a stranger failing at one desk
cannot lock the user out at every other desk) and device (one phone guessing
across many users). An attempt is gated on both *before* the PIN is tested.
"""

import math
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from services.auth import metrics
from services.auth.settings import AuthSettings
from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.lua import register

GateState = Literal["open", "backoff", "locked"]


@dataclass(frozen=True)
class Gate:
    state: GateState
    retry_after_seconds: int = 0  # 0 with "locked": until an operator unlocks
    fails: int = 0  # user+device failures so far


def _seconds_until(until_ms: int, now: int) -> int:
    return max(1, math.ceil((until_ms - now) / 1000))


class Lockout:
    def __init__(self, redis: Redis, settings: AuthSettings, clock: Clock = now_ms) -> None:
        self._redis = redis
        self._s = settings
        self._clock = clock
        self._user_device_failure = register(redis, __package__, "user_device_failure.lua")
        self._device_failure = register(redis, __package__, "device_failure.lua")

    async def gate(self, user_device_key: str | None, device_key: str) -> Gate:
        """May an attempt be made now? (Does not count anything.)"""
        now = self._clock()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(device_key, "until_ms")
            pipe.hmget(user_device_key or device_key, "fails", "until_ms", "locked")
            device_until, (fails, until, locked) = await pipe.execute()
        if user_device_key is None:
            fails, until, locked = 0, 0, 0
        fails, until = int(fails or 0), int(until or 0)
        if int(device_until or 0) > now:
            return Gate("locked", _seconds_until(int(device_until), now), fails)
        if locked and int(locked) and (until == 0 or until > now):
            return Gate("locked", 0 if until == 0 else _seconds_until(until, now), fails)
        if until > now:
            return Gate("backoff", _seconds_until(until, now), fails)
        return Gate("open", 0, fails)

    async def failure(self, user_device_key: str | None, device_key: str) -> Gate:
        """Count a failed attempt; returns the gate the *next* attempt meets."""
        now = self._clock()
        s = self._s
        _, device_until = await self._device_failure(
            keys=[device_key],
            args=[
                now,
                s.device_max_failures,
                s.device_window_seconds * 1000,
                s.device_lock_seconds * 1000,
            ],
        )
        if int(device_until) > now:
            metrics.LOCKOUTS.labels("device").inc()
        if user_device_key is None:
            return await self.gate(None, device_key)
        fails, _, locked = await self._user_device_failure(
            keys=[user_device_key],
            args=[
                now,
                s.free_attempts,
                s.backoff_base_seconds * 1000,
                s.backoff_max_seconds * 1000,
                s.lock_after,
                s.lock_seconds * 1000,
                s.failure_window_seconds * 1000,
            ],
        )
        if int(locked) and int(fails) == s.lock_after:
            metrics.LOCKOUTS.labels("user_device").inc()
        return await self.gate(user_device_key, device_key)

    async def success(self, user_device_key: str) -> None:
        await self._redis.delete(user_device_key)

    async def unlock(
        self, group: str, tenant: str | None, extension: str | None, device_id: str | None
    ) -> int:
        """Clear counters: a user on one device, a user everywhere (no device),
        or a device's device-wide lock (no user). Returns how many cleared."""
        if tenant and extension:
            if device_id:
                names = [keys.pin_failures_user_device(group, tenant, extension, device_id)]
            else:
                pattern = keys.pin_failures_user_device(group, tenant, extension, "*")
                names = [k async for k in self._redis.scan_iter(match=pattern, count=500)]
        elif device_id:
            names = [keys.pin_failures_device(group, device_id)]
        else:
            raise ValueError("unlock needs a user or a device")
        cleared = int(await self._redis.delete(*names)) if names else 0
        metrics.UNLOCKS.inc()
        return cleared
