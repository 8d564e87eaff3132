"""Backoff and lockout for PIN guessing, kept in Redis.

Three counters per attempt: user+device (so that a stranger failing at one
desk soon meets a backoff there without locking the user out everywhere),
device (one phone guessing across many users) and user (one user guessed at
from many desks, each staying under its own limit: after
``user_max_failures`` the user is locked on every device). ``admit``
decides, before the PIN is tested, whether an attempt may be made at all,
and counts it as a failure in the same atomic step; a right PIN then gets
the attempt back (``succeeded``). Counting first is what stops a burst of
concurrent attempts from all slipping through an open gate.

All counters of an attempt live in the device's group (one Redis Cluster
slot): users can only log in on devices of their own group anyway.
"""

import math
from dataclasses import dataclass
from typing import Literal, get_args

from redis.asyncio import Redis

from services.auth import metrics
from services.auth.settings import AuthSettings
from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.lookup import UserName
from services.kernel.lua import named, register, unnamed

GateState = Literal["open", "backoff", "locked"]
Scope = Literal["user_device", "device", "user"]
# Every scope's series exists from the start: a dashboard shows 0 lockouts,
# not "no data", and a rate over the first lockout sees it.
for _scope in get_args(Scope):
    metrics.LOCKOUTS.labels(_scope)
_ADMIT_REPLY = (
    "verdict",
    "fails",
    "gate",
    "gate_until_ms",
    "user_locks",
    "device_locks",
    "user_wide_locks",
)


@dataclass(frozen=True)
class Gate:
    state: GateState
    retry_after_seconds: int = 0  # 0 with "locked": until an operator unlocks


@dataclass(frozen=True)
class Admission:
    """``admit``'s answer for one attempt."""

    admitted: bool
    # Refused: what refused it. Admitted: what the next attempt meets should
    # this one turn out wrong (the attempt is already counted as a failure).
    gate: Gate
    fails: int  # user+device failures, this attempt included when admitted
    starts: tuple[Scope, ...]  # lockouts this attempt starts should it be wrong
    device_key: str
    user_device_key: str | None
    user_key: str | None  # the user's counter across devices


def user_failures_key(group: str, tenant: str, extension: str) -> str:
    """The user's PIN failures across devices (in the group's slot, beside
    the user+device counters, which ``pinfail:ud:`` names)."""
    return f"{keys.prefix(group)}pinfail:u:{tenant}:{extension}"


def _seconds_until(until_ms: int, now: int) -> int:
    return 0 if until_ms == 0 else max(1, math.ceil((until_ms - now) / 1000))


class Lockout:
    def __init__(self, redis: Redis, settings: AuthSettings, clock: Clock = now_ms) -> None:
        self._redis = redis
        self._s = settings
        self._clock = clock
        self._admit = register(redis, __package__, "admit.lua")
        self._refund = register(redis, __package__, "refund.lua")

    async def admit(self, group: str, device_id: str, user: UserName | None) -> Admission:
        """May an attempt at ``device_id`` be made now? ``user`` None (unknown,
        or without a PIN) counts against the device only."""
        s = self._s
        now = self._clock()
        device_key = keys.pin_failures_device(group, device_id)
        user_device_key = (
            None
            if user is None
            else keys.pin_failures_user_device(group, user.tenant.id, user.extension, device_id)
        )
        user_key = (
            None if user is None else user_failures_key(group, user.tenant.id, user.extension)
        )
        counters = [device_key] if user_device_key is None else [device_key, user_device_key]
        reply = await self._admit(
            keys=counters if user_key is None else [*counters, user_key],
            args=named(
                {
                    "now_ms": now,
                    "device_max": s.device_max_failures,
                    "device_window_ms": s.device_window_seconds * 1000,
                    "device_lock_ms": s.device_lock_seconds * 1000,
                    "free_attempts": s.free_attempts,
                    "backoff_base_ms": s.backoff_base_seconds * 1000,
                    "backoff_max_ms": s.backoff_max_seconds * 1000,
                    "lock_after": s.lock_after,
                    "lock_ms": s.lock_seconds * 1000,
                    "window_ms": s.failure_window_seconds * 1000,
                    "user_max": s.user_max_failures,
                    "user_window_ms": s.user_window_seconds * 1000,
                    "user_lock_ms": s.user_lock_seconds * 1000,
                }
            ),
        )
        f = unnamed(reply, _ADMIT_REPLY)
        verdict, fails, state, until = f["verdict"], f["fails"], f["gate"], f["gate_until_ms"]
        user_locks, device_locks, wide_locks = (
            f["user_locks"],
            f["device_locks"],
            f["user_wide_locks"],
        )
        starts: tuple[Scope, ...] = (
            *(("user_device",) if int(user_locks) else ()),
            *(("device",) if int(device_locks) else ()),
            *(("user",) if int(wide_locks) else ()),
        )
        return Admission(
            admitted=verdict == "open",
            gate=Gate(state, _seconds_until(int(until), now)),
            fails=int(fails),
            starts=starts,
            device_key=device_key,
            user_device_key=user_device_key,
            user_key=user_key,
        )

    async def succeeded(self, admission: Admission) -> None:
        """The admitted attempt's PIN was right: reset the user+device counter
        and take the attempt back from the device and user counters."""
        assert admission.admitted and admission.user_device_key is not None
        assert admission.user_key is not None
        await self._refund(
            keys=[admission.device_key, admission.user_device_key, admission.user_key],
            args=[int("device" in admission.starts), int("user" in admission.starts)],
        )

    def failed(self, admission: Admission) -> Gate:
        """The admitted attempt was wrong (it is counted already): count it
        and the lockouts it started (the caller audits them); returns the
        gate the next attempt meets."""
        if admission.user_key is not None:
            metrics.USER_PIN_FAILURES.inc()
        for scope in admission.starts:
            metrics.LOCKOUTS.labels(scope).inc()
        return admission.gate

    async def unlock(self, group: str, device_id: str | None, user: UserName | None) -> int:
        """Clear counters: a user on one device, a user on every device (no
        device), or a device's device-wide counter (no user). Unlocking a
        user also clears the user's counter across devices. Returns how many
        desks' counters (user+device, device) were cleared."""
        if user is not None:
            key = keys.pin_failures_user_device(
                group, user.tenant.id, user.extension, device_id or "*"
            )
            names = (
                [key]
                if device_id
                else [k async for k in self._redis.scan_iter(match=key, count=500)]
            )
            await self._redis.delete(user_failures_key(group, user.tenant.id, user.extension))
        elif device_id:
            names = [keys.pin_failures_device(group, device_id)]
        else:
            raise ValueError("unlock needs a user or a device")
        cleared = int(await self._redis.delete(*names)) if names else 0
        metrics.UNLOCKS.inc()
        return cleared
