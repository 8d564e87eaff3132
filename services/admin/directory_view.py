"""The devices and users an operator sees, in pages, read from Redis as
the binding scripts and the directory import write them (the session
fields through ``kernel.sessions``); this service writes none of it.

The ids of every tenant's devices and users are held in memory, sorted,
and reloaded with the tenant cache (after every directory import), so a
page costs two pipelined round trips however many devices there are.
A page's cursor is the last id it holds.
"""

import bisect
import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from redis.asyncio import Redis

from services.admin.models import DeviceRow, SessionView, UserRow
from services.admin.operators import Operator
from services.kernel import keys, sessions
from services.kernel.clock import Clock, now_ms
from services.kernel.tenants import TenantCache

_DEVICE_FIELDS = ("tenant", "vendor", "model", "hotdesk", *sessions.FIELDS)


@dataclass(frozen=True)
class Page:
    ids: list[str]
    next_cursor: str | None


def _after(ids: list[str], cursor: str | None, prefix: str) -> Iterator[str]:
    """The ids after ``cursor`` that start with ``prefix``, in order."""
    start = bisect.bisect_right(ids, cursor) if cursor else 0
    start = max(start, bisect.bisect_left(ids, prefix))
    return itertools.takewhile(lambda i: i.startswith(prefix), itertools.islice(ids, start, None))


def _merged(lists: Iterable[list[str]], cursor: str | None, prefix: str) -> Iterator[str]:
    return heapq.merge(*(_after(ids, cursor, prefix) for ids in lists))


class DirectoryView:
    def __init__(self, redis: Redis, tenants: TenantCache, clock: Clock = now_ms) -> None:
        self._redis = redis
        self._tenants = tenants
        self._clock = clock
        self._devices: dict[str, list[str]] = {}  # tenant -> sorted device ids
        self._users: dict[str, list[str]] = {}  # tenant -> sorted "tenant/extension"
        self._device_tenant: dict[str, str] = {}

    async def reload(self) -> None:
        tenants = list(self._tenants.by_id.values())
        async with self._redis.pipeline(transaction=False) as pipe:
            for t in tenants:
                pipe.smembers(keys.tenant_devices(t.group, t.id))
                pipe.smembers(keys.tenant_users(t.group, t.id))
            replies = await pipe.execute()
        devices, users = {}, {}
        for t, device_ids, extensions in zip(tenants, replies[::2], replies[1::2], strict=True):
            devices[t.id] = sorted(device_ids)
            users[t.id] = sorted(f"{t.id}/{e}" for e in extensions)
        self._devices, self._users = devices, users
        self._device_tenant = {d: t for t, ids in devices.items() for d in ids}

    @property
    def device_tenants(self) -> dict[str, str]:
        """Device id -> its tenant, every device."""
        return self._device_tenant

    def tenants_of(self, operator: Operator, tenant: str | None) -> list[str]:
        """The tenants a list covers: the one asked for, or all the operator sees."""
        known = sorted(self._devices)
        chosen = [tenant] if tenant is not None else known
        return [t for t in operator.visible(chosen) if t in self._devices]

    def device_tenant(self, operator: Operator, device_id: str) -> str | None:
        """The device's tenant, None if there is none the operator sees."""
        tenant = self._device_tenant.get(device_id)
        return tenant if tenant is not None and operator.sees(tenant) else None

    def has_user(self, operator: Operator, tenant: str, extension: str) -> bool:
        ids = self._users.get(tenant, []) if operator.sees(tenant) else []
        key = f"{tenant}/{extension}"
        i = bisect.bisect_left(ids, key)
        return i < len(ids) and ids[i] == key

    def device_ids(self, tenants: list[str], cursor: str | None, prefix: str) -> Iterator[str]:
        return _merged((self._devices[t] for t in tenants), cursor, prefix)

    def user_ids(self, tenants: list[str], cursor: str | None, prefix: str) -> Iterator[str]:
        return _merged((self._users[t] for t in tenants), cursor, prefix)

    async def device_rows(self, device_ids: list[str]) -> list[DeviceRow]:
        """The devices (known ones; in the given order) and who is on each."""
        known = [d for d in device_ids if d in self._device_tenant]
        groups = [self._tenants.by_id[self._device_tenant[d]].group for d in known]
        async with self._redis.pipeline(transaction=False) as pipe:
            for device_id, group in zip(known, groups, strict=True):
                pipe.hmget(keys.device(group, device_id), *_DEVICE_FIELDS)
            hashes: list[list[str | None]] = await pipe.execute()
        now = self._clock()
        found = [
            (device_id, group, values[:4], sessions.live(values[4:], now))
            for device_id, group, values in zip(known, groups, hashes, strict=True)
        ]
        names = await self._names(
            [(group, s.tenant, s.extension) for _, group, _, s in found if s is not None]
        )
        rows = []
        for device_id, _, (tenant, vendor, model, hotdesk), session in found:
            view = None
            if session is not None:
                view = SessionView(
                    tenant=session.tenant,
                    extension=session.extension,
                    name=names.pop(0),
                    since_unix_ms=session.since_ms,
                    expires_unix_ms=session.expires_ms,
                )
            rows.append(
                DeviceRow(
                    device_id=device_id,
                    tenant=tenant or self._device_tenant[device_id],
                    vendor=vendor or "",
                    model=model or "",
                    hotdesk=hotdesk == "1",
                    session=view,
                )
            )
        return rows

    async def _names(self, users: list[tuple[str, str, str]]) -> list[str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for group, tenant, extension in users:
                pipe.hget(keys.user(group, tenant, extension), "name")
            names: list[str | None] = await pipe.execute()
        return [n or "" for n in names]

    async def user_rows(self, user_ids: list[str]) -> list[UserRow]:
        """The users (``tenant/extension``) and the device each is on."""
        pairs = [u.split("/", 1) for u in user_ids]
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant, extension in pairs:
                group = self._tenants.by_id[tenant].group
                pipe.hmget(
                    keys.user(group, tenant, extension), "name", "hotdesk", sessions.USER_DEVICE
                )
            hashes: list[list[str | None]] = await pipe.execute()
        return [
            UserRow(
                tenant=tenant,
                extension=extension,
                name=name or "",
                hotdesk=hotdesk == "1",
                device=device or None,
            )
            for (tenant, extension), (name, hotdesk, device) in zip(pairs, hashes, strict=True)
        ]

    async def device_of_user(self, tenant: str, extension: str) -> str | None:
        group = self._tenants.by_id[tenant].group
        device: str | None = await self._redis.hget(
            keys.user(group, tenant, extension), sessions.USER_DEVICE
        )
        return device or None
