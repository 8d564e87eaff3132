"""The occupancy report: who sat where, from when to when, as closed
intervals made from the binding's event streams (login, logout, takeover,
move, expiry, ...).

A reader follows every group's stream from where it last stopped (its
position kept in Redis, so a restart or a second admin instance loses and
repeats nothing: applying an entry twice writes the same values). A login
opens the device's interval; the next event of that device (a logout for
any reason, or a login of someone else: a takeover) closes it at the
event's time. Closed intervals are kept ``retention_ms`` (by their start)
in one sorted set read by lex range, newest first; members are
``<start ms, 16 digits>|<opening entry id, padded>|<JSON>``. The entry id
orders two intervals that started in the same millisecond (a takeover
right after a login) as their logins were written; members written
before it was added (``<start ms>|<JSON>``) still read.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis

from services.admin.streams import Entries, event_streams, follow, unread
from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.tenants import TenantCache

_BATCH = 500
# The opening entry id of an interval recorded before ids were kept (sorts
# before any real one).
_NO_ENTRY = "0-0"


def _tenant_of(user: str) -> str:
    return user.split("/", 1)[0]


@dataclass(frozen=True)
class Interval:
    user: str  # "tenant/extension"
    device: str
    device_tenant: str
    from_ms: int
    to_ms: int
    ended_by: str  # the reason of the event that closed it
    opened_by: str = _NO_ENTRY  # the stream entry id of the login that opened it

    @property
    def tenants(self) -> set[str]:
        return {_tenant_of(self.user), self.device_tenant} - {""}

    def member(self) -> str:
        data = {
            "u": self.user,
            "d": self.device,
            "dt": self.device_tenant,
            "f": self.from_ms,
            "t": self.to_ms,
            "r": self.ended_by,
        }
        ms, seq = self.opened_by.split("-", 1)
        order = f"{self.from_ms:016d}|{int(ms):016d}-{int(seq):010d}"
        return f"{order}|{json.dumps(data, separators=(',', ':'), sort_keys=True)}"

    @classmethod
    def of_member(cls, member: str) -> "Interval":
        _, rest = member.split("|", 1)
        opened_by = _NO_ENTRY
        if not rest.startswith("{"):
            padded, rest = rest.split("|", 1)
            ms, seq = padded.split("-", 1)
            opened_by = f"{int(ms)}-{int(seq)}"
        d = json.loads(rest)
        return cls(d["u"], d["d"], d["dt"], int(d["f"]), int(d["t"]), d["r"], opened_by)


def start_bound(ms: int) -> str:
    """The lex bound just below every member starting at ``ms``."""
    return f"({ms:016d}"


class OccupancyRecorder:
    def __init__(
        self,
        redis: Redis,
        tenants: TenantCache,
        retention_ms: int,
        poll_seconds: float,
        clock: Clock = now_ms,
    ) -> None:
        self._redis = redis
        self._tenants = tenants
        self._retention_ms = retention_ms
        self._poll_seconds = poll_seconds
        self._clock = clock

    async def run(self) -> None:
        """Follow every group's event stream until cancelled."""
        await follow(self.catch_up, self._poll_seconds, "occupancy_read_failed")

    async def catch_up(self) -> bool:
        """Apply one batch of each stream's new entries; False: none."""
        busy = False
        streams = event_streams(self._tenants)
        async for stream, _, entries in unread(
            self._redis, keys.ADMIN_OCC_CURSORS, streams, _BATCH
        ):
            busy = True
            await self._apply(stream, entries)
        return busy

    async def _apply(self, stream: str, entries: Entries) -> None:
        devices = sorted({e.get("device", "") for _, e in entries} - {""})
        current = await self._redis.hmget(keys.ADMIN_OCC_OPEN, devices) if devices else []
        opened: dict[str, str | None] = dict(zip(devices, current, strict=True))
        closed: list[Interval] = []
        for entry_id, e in entries:
            device, at = e.get("device", ""), int(e.get("ts_ms", 0) or 0)
            if not device:
                continue
            if (was := opened.get(device)) is not None:
                o = json.loads(was)
                closed.append(
                    Interval(
                        o["u"],
                        device,
                        o["dt"],
                        int(o["f"]),
                        at,
                        e.get("reason", ""),
                        o.get("id", _NO_ENTRY),
                    )
                )
                opened[device] = None
            if e.get("type") == "login" and e.get("new_user"):
                session = {
                    "u": e["new_user"],
                    "dt": e.get("device_tenant", ""),
                    "f": at,
                    "id": entry_id,
                }
                opened[device] = json.dumps(session, separators=(",", ":"))
        async with self._redis.pipeline(transaction=True) as pipe:
            for device, value in opened.items():
                if value is None:
                    pipe.hdel(keys.ADMIN_OCC_OPEN, device)
                else:
                    pipe.hset(keys.ADMIN_OCC_OPEN, device, value)
            if closed:
                pipe.zadd(keys.ADMIN_OCC_INTERVALS, {i.member(): 0 for i in closed})
            pipe.zremrangebylex(
                keys.ADMIN_OCC_INTERVALS, "-", start_bound(self._clock() - self._retention_ms)
            )
            pipe.hset(keys.ADMIN_OCC_CURSORS, stream, entries[-1][0])
            await pipe.execute()


async def newest_first(
    redis: Redis, until_ms: int | None, after: str | None, chunk: int
) -> AsyncIterator[tuple[str, Interval]]:
    """Closed intervals, newest start first, that started before
    ``until_ms`` and come after the member ``after`` (a page's cursor);
    read ``chunk`` at a time, each with its member."""
    top = f"({after}" if after else (start_bound(until_ms) if until_ms is not None else "+")
    while True:
        members = await redis.zrange(
            keys.ADMIN_OCC_INTERVALS, top, "-", desc=True, bylex=True, offset=0, num=chunk
        )
        for member in members:
            yield member, Interval.of_member(member)
        if len(members) < chunk:
            return
        top = f"({members[-1]}"
