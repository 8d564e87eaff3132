"""Applying a validated directory to Redis, idempotently.

The file is the full truth: entries it no longer names are removed (their
live sessions are ended first, through the binding core, so the event stream
records why). All writes of one import go out in one MULTI/EXEC, watched on
the directory version, so a concurrent import cannot interleave with it.
"""

import asyncio
import logging
from dataclasses import dataclass, field

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis
from redis.exceptions import WatchError

from services.auth.credentials import credential_fields
from services.auth.pins import PinHasher
from services.binding.core import BindingCore
from services.directory.model import DeviceEntry, Directory, UserEntry
from services.kernel import keys
from services.kernel.logs import fields
from services.kernel.tenants import TenantCache, TenantConfig

log = logging.getLogger(__name__)
ACTOR = "directory-import"


class ImportRefused(Exception):
    """The import cannot be applied as it stands; nothing was written."""


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    sessions_ended: list[str] = field(default_factory=list)
    version: int = 0

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"


@dataclass(frozen=True)
class _Current:
    tenants: dict[str, TenantConfig]
    users: dict[tuple[str, str], dict[str, str]]  # (tenant, ext) -> static fields
    pins: dict[tuple[str, str], str]  # (tenant, ext) -> argon2id hash
    devices: dict[str, dict[str, str]]  # id -> static fields + "secret"


_USER_FIELDS = ("name", "caller_id", "hotdesk", "hotdesk_id")
_DEVICE_FIELDS = ("tenant", "mac", "vendor", "model", "emergency_cid", "hotdesk")


async def _read_current(redis: Redis) -> _Current:
    tenants = {
        tid: TenantConfig.model_validate_json(doc)
        for tid, doc in (await redis.hgetall(keys.DIR_TENANTS)).items()
    }
    users: dict[tuple[str, str], dict[str, str]] = {}
    pins: dict[tuple[str, str], str] = {}
    devices: dict[str, dict[str, str]] = {}
    for t in tenants.values():
        exts = sorted(await redis.smembers(keys.tenant_users(t.group, t.id)))
        ids = sorted(await redis.smembers(keys.tenant_devices(t.group, t.id)))
        async with redis.pipeline(transaction=False) as pipe:
            for ext in exts:
                pipe.hmget(keys.user(t.group, t.id, ext), *_USER_FIELDS)
                pipe.get(keys.pin(t.group, t.id, ext))
            for device_id in ids:
                pipe.hmget(keys.device(t.group, device_id), *_DEVICE_FIELDS)
                pipe.hget(keys.sip_credentials(t.domain, device_id), "secret")
            replies = await pipe.execute()
        for i, ext in enumerate(exts):
            values, pin_hash = replies[2 * i], replies[2 * i + 1]
            users[(t.id, ext)] = dict(zip(_USER_FIELDS, (v or "" for v in values), strict=True))
            if pin_hash:
                pins[(t.id, ext)] = pin_hash
        offset = 2 * len(exts)
        for i, device_id in enumerate(ids):
            values, secret = replies[offset + 2 * i], replies[offset + 2 * i + 1]
            device = dict(zip(_DEVICE_FIELDS, (v or "" for v in values), strict=True))
            device["secret"] = secret or ""
            devices[device_id] = device
    return _Current(tenants, users, pins, devices)


def _diff(
    old: dict[str, str], new: dict[str, str], secret_fields: tuple[str, ...] = ()
) -> list[str]:
    changes = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name, ""), new.get(name, "")
        if before != after:
            shown = "(changed)" if name in secret_fields else f"{before!r} -> {after!r}"
            changes.append(f"{name} {shown}")
    return changes


class DirectoryImporter:
    def __init__(self, redis: Redis, hasher: PinHasher) -> None:
        self._redis = redis
        self._hasher = hasher

    async def _pin_unchanged(self, stored: str | None, pin: str) -> bool:
        return stored is not None and await asyncio.to_thread(self._hasher.verify, stored, pin)

    async def apply(self, directory: Directory, *, dry_run: bool = False) -> ImportReport:
        async with self._redis.pipeline(transaction=True) as tx:
            await tx.watch(keys.DIR_VERSION)
            version = int(await tx.get(keys.DIR_VERSION) or 0)
            current = await _read_current(self._redis)
            report = ImportReport(version=version)
            self._refuse_group_changes(directory, current)
            pin_hashes = await self._plan(directory, current, report)
            if dry_run or report.unchanged:
                await tx.reset()
                return report
            await self._end_removed_sessions(directory, current, report)
            tx.multi()
            self._queue_writes(tx, directory, current, pin_hashes)
            tx.incr(keys.DIR_VERSION)
            try:
                await tx.execute()
            except WatchError as exc:
                raise ImportRefused(
                    "another import changed the directory meanwhile; nothing of this one "
                    "was written (run it again)"
                ) from exc
        report.version = version + 1
        log.info(
            "directory_imported",
            extra=fields(
                added=len(report.added),
                changed=len(report.changed),
                removed=len(report.removed),
                version=report.version,
            ),
        )
        return report

    @staticmethod
    def _refuse_group_changes(directory: Directory, current: _Current) -> None:
        for t in directory.tenants:
            old = current.tenants.get(t.id)
            if old is not None and old.group != t.group:
                raise ImportRefused(
                    f"tenant {t.id}: cross_tenant_group cannot change from "
                    f"{old.cross_tenant_group!r} to {t.cross_tenant_group!r} while the tenant "
                    "exists (its keys live under the group); remove the tenant first"
                )

    async def _plan(
        self, directory: Directory, current: _Current, report: ImportReport
    ) -> dict[tuple[str, str], str]:
        """Fill the report; return the PIN hashes to write (new or changed)."""
        wanted_tenants = {t.id: t for t in directory.tenants}
        for tid, t in wanted_tenants.items():
            old = current.tenants.get(tid)
            if old is None:
                report.added.append(f"+ tenant {tid}")
            elif old != t:
                before, after = old.model_dump(mode="json"), t.model_dump(mode="json")
                changes = [
                    f"{k} {before[k]!r} -> {after[k]!r}" for k in after if before.get(k) != after[k]
                ]
                report.changed.append(f"~ tenant {tid}: " + ", ".join(changes))
        report.removed += [
            f"- tenant {tid}" for tid in sorted(set(current.tenants) - set(wanted_tenants))
        ]

        pin_hashes: dict[tuple[str, str], str] = {}
        wanted_users = {(u.tenant, u.extension): u for u in directory.users}
        for key, u in wanted_users.items():
            old_fields = current.users.get(key)
            changes = [] if old_fields is None else _diff(old_fields, u.static_fields())
            if u.pin is not None and not await self._pin_unchanged(current.pins.get(key), u.pin):
                pin_hashes[key] = await asyncio.to_thread(self._hasher.hash, u.pin)
                changes.append("pin (changed)")
            if old_fields is None:
                report.added.append(f"+ user {u.ref}")
            elif changes:
                report.changed.append(f"~ user {u.ref}: " + ", ".join(changes))
        report.removed += [
            f"- user {t}/{e}" for t, e in sorted(set(current.users) - set(wanted_users))
        ]

        wanted_devices = {d.id: d for d in directory.devices}
        for device_id, d in wanted_devices.items():
            old_fields = current.devices.get(device_id)
            new_fields = {**d.static_fields(), "secret": d.sip_secret}
            if old_fields is None:
                report.added.append(f"+ device {device_id}")
                continue
            changes = _diff(old_fields, new_fields, secret_fields=("secret",))
            old_tenant = current.tenants.get(old_fields["tenant"])
            if old_tenant and old_tenant.domain != wanted_tenants[d.tenant].domain:
                changes.append("sip realm (domain changed)")
            if changes:
                report.changed.append(f"~ device {device_id}: " + ", ".join(changes))
        report.removed += [
            f"- device {i}" for i in sorted(set(current.devices) - set(wanted_devices))
        ]
        return pin_hashes

    async def _end_removed_sessions(
        self, directory: Directory, current: _Current, report: ImportReport
    ) -> None:
        """Removed users and devices (and devices moving tenant) lose their session."""
        tenants = TenantCache(self._redis)
        await tenants.refresh()
        core = BindingCore(self._redis, tenants)
        wanted_users = {(u.tenant, u.extension) for u in directory.users}
        wanted_devices = {d.id: d.tenant for d in directory.devices}
        for tenant_id, ext in sorted(set(current.users) - wanted_users):
            r = await core.logout_user(
                pb.UserRef(tenant=tenant_id, extension=ext),
                reason=pb.CHANGE_REASON_DIRECTORY,
                actor=ACTOR,
            )
            if r.result == pb.LOGOUT_RESULT_LOGGED_OUT:
                report.sessions_ended.append(
                    f"{r.ended.tenant}/{r.ended.extension}@{r.ended.device_id}"
                )
        for device_id, old in sorted(current.devices.items()):
            if wanted_devices.get(device_id) != old["tenant"]:
                r = await core.logout_device(
                    device_id, reason=pb.CHANGE_REASON_DIRECTORY, actor=ACTOR
                )
                if r.result == pb.LOGOUT_RESULT_LOGGED_OUT:
                    report.sessions_ended.append(
                        f"{r.ended.tenant}/{r.ended.extension}@{r.ended.device_id}"
                    )

    @staticmethod
    def _queue_writes(
        tx: Redis, directory: Directory, current: _Current, pin_hashes: dict[tuple[str, str], str]
    ) -> None:
        wanted_tenants = {t.id: t for t in directory.tenants}
        # Removals first, with the keys of where things were.
        for tid, old in current.tenants.items():
            new = wanted_tenants.get(tid)
            if new is None or new.domain != old.domain:
                tx.hdel(keys.DIR_DOMAINS, old.domain)
            if new is None:
                tx.hdel(keys.DIR_TENANTS, tid)
        wanted_users = {(u.tenant, u.extension) for u in directory.users}
        for (tid, ext), old_fields in current.users.items():
            old_tenant = current.tenants[tid]
            if (tid, ext) not in wanted_users:
                tx.delete(
                    keys.user(old_tenant.group, tid, ext), keys.pin(old_tenant.group, tid, ext)
                )
                tx.srem(keys.tenant_users(old_tenant.group, tid), ext)
            if old_fields["hotdesk_id"]:
                tx.hdel(keys.DIR_HOTDESK_IDS, old_fields["hotdesk_id"])
        wanted_devices = {d.id: d for d in directory.devices}
        for device_id, old_fields in current.devices.items():
            old_tenant = current.tenants[old_fields["tenant"]]
            new_device = wanted_devices.get(device_id)
            tx.delete(keys.sip_credentials(old_tenant.domain, device_id))
            if new_device is None or new_device.tenant != old_tenant.id:
                tx.delete(keys.device(old_tenant.group, device_id))
                tx.srem(keys.tenant_devices(old_tenant.group, old_tenant.id), device_id)
                tx.hdel(keys.DIR_DEVICES, device_id)
        # Then everything the file says, as it says it.
        for t in directory.tenants:
            tx.hset(keys.DIR_TENANTS, t.id, t.model_dump_json())
            tx.hset(keys.DIR_DOMAINS, t.domain, t.id)
        for u in directory.users:
            DirectoryImporter._queue_user(
                tx, wanted_tenants[u.tenant], u, pin_hashes.get((u.tenant, u.extension))
            )
        for d in directory.devices:
            DirectoryImporter._queue_device(tx, wanted_tenants[d.tenant], d)

    @staticmethod
    def _queue_user(tx: Redis, t: TenantConfig, u: UserEntry, pin_hash: str | None) -> None:
        tx.hset(keys.user(t.group, t.id, u.extension), mapping=u.static_fields())
        tx.sadd(keys.tenant_users(t.group, t.id), u.extension)
        if u.hotdesk_id:
            tx.hset(keys.DIR_HOTDESK_IDS, u.hotdesk_id, u.ref)
        if pin_hash is not None:
            tx.set(keys.pin(t.group, t.id, u.extension), pin_hash)

    @staticmethod
    def _queue_device(tx: Redis, t: TenantConfig, d: DeviceEntry) -> None:
        tx.hset(keys.device(t.group, d.id), mapping=d.static_fields())
        tx.sadd(keys.tenant_devices(t.group, t.id), d.id)
        tx.hset(keys.DIR_DEVICES, d.id, t.id)
        tx.hset(
            keys.sip_credentials(t.domain, d.id),
            mapping=credential_fields(d.id, t.domain, d.sip_secret),
        )
