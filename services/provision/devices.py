"""A device as the provisioning service needs it: directory entry, SIP
secret, who is logged in, at which generation — read from Redis.

A device file read costs one Redis round trip (``for_fetch``): the failure
counters, the device's tenant, its SIP secrets and everything its file is
made of (``lua/device.lua``, the session read by ``kernel.sessions``'
rule); one more for a device this process has not seen yet. (The first
fetch of a new generation then writes its fetch record, once the digest is
verified: ``files``.) ``_SECRET_FIELDS`` and ``_secrets`` are the
one place this service reads a device's SIP secrets: the current one (its
file password and what its file carries) and a replaced one still in its
grace window (a file password too: the phone fetches the file that tells it
the new secret with the old one).

With a ``Tracking``, what a fetch read is kept, and the
next fetch of the device is answered from memory after the tracking
barrier (``kernel.tracking``): no read at all while nothing it was made of
changed (its fetch record aside: ``fetched``). Nothing kept: no barrier,
the read at once. The failure counters are kept per key, and used only
while under their limit. The user's name, caller ID and profile, which the
script finds on its own, are read once more outside it when a file is kept,
so that Redis tracks their keys too; the directory's version is read with
the rest, so that an import drops everything. A kept file serves until its
session ends or its replaced secret's grace window does."""

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from redis.asyncio import Redis

from services.auth.credentials import PREVIOUS_SEALED, PREVIOUS_UNTIL
from services.kernel import keys
from services.kernel.batch import Batch, Batcher
from services.kernel.logs import fields
from services.kernel.lookup import DirectoryLookup
from services.kernel.lua import named, queue, register, unnamed
from services.kernel.secretbox import SealError, SecretBox, sip_secret_context
from services.kernel.tenants import TenantCache, TenantConfig
from services.kernel.tracking import TrackedCache, Tracking
from services.provision import metrics
from services.provision.failures import DigestFailures, Limited, Scope
from services.provision.phone import LoggedInUser
from services.provision.profiles import model_field

log = logging.getLogger(__name__)

_SECRET_FIELDS = ("secret_sealed", PREVIOUS_SEALED, PREVIOUS_UNTIL)
_DEVICE_REPLY = (
    "mac",
    "vendor",
    "model",
    "hotdesk",
    "generation",
    "user_tenant",
    "extension",
    "name",
    "caller_id",
    "profile",
    "session_expires_ms",
    "fetched_generation",
)


@dataclass(frozen=True)
class DeviceRecord:
    id: str
    tenant: TenantConfig
    mac: str
    vendor: str
    model: str
    hotdesk: bool
    secret: str  # the SIP secret ("" if none: such a device gets no file)
    generation: int
    user: LoggedInUser | None  # None: idle (an expired session counts as idle)
    user_tenant: TenantConfig | None  # the logged-in user's tenant


# Where the secret of a device id that is not in the directory is looked
# for: no domain is named so, and the read costs what a real one costs.
_NO_DOMAIN = "-"


Opener = Callable[[str, str], str]  # SecretBox.open: (sealed, context) -> plain text


def _open(opener: Opener, sealed: str | None, domain: str, device_id: str) -> str:
    if not sealed:
        return ""
    try:
        return opener(sealed, sip_secret_context(domain, device_id))
    except SealError:
        log.error("sip_secret_unreadable", extra=fields(device=device_id, domain=domain))
        return ""


def _previous_until(values: Sequence[str | None], now_s: float) -> int:
    """When the replaced secret's grace window ends (Unix seconds), from the
    credentials hash's ``_SECRET_FIELDS``; 0 if it has none or it ended."""
    until = values[2]
    return int(until) if until and until.isdigit() and int(until) > now_s else 0


def _secrets(
    opener: Opener, values: Sequence[str | None], domain: str, device_id: str, now_s: float
) -> tuple[str, str]:
    """The device's SIP secret and a replaced one still valid at ``now_s``
    (each "" if there is none, or its sealed copy does not open: logged),
    from the credentials hash's ``_SECRET_FIELDS``."""
    sealed, previous = values[0], values[1] if _previous_until(values, now_s) else None
    return _open(opener, sealed, domain, device_id), _open(opener, previous, domain, device_id)


@dataclass(frozen=True)
class DeviceFile:
    """What a device file is made of, as one fetch read it."""

    # The file passwords of the claimed device id: its SIP secret, and a
    # replaced one in its grace window; [] when it has none, None when there
    # is no such device.
    passwords: list[str] | None
    device: DeviceRecord | None
    profile: str  # the user's stored profile JSON for the model; "" for none (yet)
    fetched_generation: int  # -1: never fetched
    # When what was read stops holding by time alone (the session ends, the
    # replaced secret's grace window does), Unix ms; 0: never.
    until_ms: int = 0

    def holds(self, now_ms: int) -> bool:
        return not self.until_ms or now_ms < self.until_ms


class DeviceDirectory:
    def __init__(
        self,
        redis: Redis,
        tenants: TenantCache,
        box: SecretBox,
        remembered: int = 100_000,
        tracking: Tracking | None = None,
        kept: int = 0,
    ) -> None:
        """``kept``: device files kept with ``tracking`` (0: none)."""
        self._tracking = tracking if kept > 0 else None
        self._batcher = Batcher(redis) if self._tracking is None else self._tracking.batcher
        self._files: TrackedCache[DeviceFile] | None = None
        self._counts: TrackedCache[int] | None = None
        if self._tracking is not None:
            self._files = self._tracking.cache(kept)
            # A MAC's counter and its address's: twice as many.
            self._counts = self._tracking.cache(2 * kept)
        self._tenants = tenants
        # Sealed secrets already opened, by sealed text and context (a secret
        # rotated is sealed anew, so it is opened anew; what does not open is
        # not remembered). The least recently used go beyond ``remembered``.
        self._open: Opener = lru_cache(maxsize=remembered)(box.open)
        self._lookup = DirectoryLookup(redis, tenants)
        self._script = register(redis, "services.provision", "device.lua")
        # device id -> tenant id, as the directory last said (the least
        # recently used go beyond ``remembered``): only a guess, checked
        # against the directory in the same round trip.
        self._tenant_of: OrderedDict[str, str] = OrderedDict()
        self._remembered = remembered

    async def for_fetch(
        self,
        failures: DigestFailures,
        mac: str,
        address: str,
        device_id: str | None,
        now_ms: int,
    ) -> tuple[Limited | None, DeviceFile | None]:
        """The failure limit a file request is over, if any, and what the
        file of the claimed ``device_id`` is made of (None: no id claimed).

        What was kept, when it all still holds after the tracking barrier.
        Otherwise one round trip: the failure counters, the device's tenant
        in the directory and, at the tenant this process last saw the device
        in, its secrets and file (``for_file``'s reads). A second one only
        when the directory names another tenant (a device first seen since
        start, or moved), or to keep the file. An unknown id costs one, as a
        known one does."""
        # The failure counters this request is held to (kept ones are used).
        counted = failures.counted(mac, address) if self._tracking is not None else []
        if device_id is not None and self._tracking is not None:
            # Nothing kept: read at once. Something kept: the barrier, then
            # what its invalidations left.
            kept = self._kept(failures, counted, device_id, now_ms)
            if kept is not None and await self._tracking.fresh():
                kept = self._kept(failures, counted, device_id, now_ms)
                if kept is not None:
                    metrics.DEVICE_CACHE_HIT.inc()
                    return None, kept
            if self._tracking.usable:
                metrics.DEVICE_CACHE_MISS.inc()
            else:
                metrics.DEVICE_CACHE_OFF.inc()
        token = self._tracking.token() if self._tracking is not None else 0
        guess = self._guess(device_id)
        counters = 0

        def commands(pipe: Batch) -> None:
            nonlocal counters
            counters = failures.queue(pipe, mac, address)
            if device_id is not None:
                pipe.hget(keys.DIR_DEVICES, device_id)
                self._queue_file(pipe, guess, device_id, now_ms)
                if self._files is not None:
                    pipe.get(keys.DIR_VERSION)  # tracked: an import drops what is kept

        replies = await self._batcher.run([self._script], commands)
        limited = await failures.limit_of(mac, address, replies[:counters])
        if self._counts is not None:
            for (_, key), count in zip(counted, replies[:counters], strict=True):
                self._counts.put(key, int(count or 0), [key], token)
        if device_id is None:
            return limited, None
        tenant_id = replies[counters]
        tenant = None if tenant_id is None else await self._lookup.tenant(tenant_id)
        self._remember(device_id, tenant)
        if tenant == guess:
            read = self._decode(guess, device_id, replies[counters + 1 :], now_ms)
        else:
            read = await self.for_file(tenant, device_id, now_ms)
        if self._files is not None and read.device is not None:
            read = await self._keep(self._files, read, token)
        return limited, read

    def _kept(
        self,
        failures: DigestFailures,
        counted: Sequence[tuple[Scope, str]],
        device_id: str,
        now_ms: int,
    ) -> DeviceFile | None:
        """What ``for_fetch`` would read, if all of it is kept and holds
        (``counted``: the failure counters it is held to)."""
        assert self._counts is not None and self._files is not None
        for scope, key in counted:
            count = self._counts.get(key)
            if count is None or count >= failures.limit(scope):
                return None  # at the limit: Redis says until when
        kept = self._files.get(device_id)
        return kept if kept is not None and kept.holds(now_ms) else None

    async def _keep(
        self, files: TrackedCache[DeviceFile], read: DeviceFile, token: int
    ) -> DeviceFile:
        """Keep ``read`` (a device's), its logged-in user's name, caller ID
        and profile read again outside the script (tracked; the values
        read now are the ones kept and returned)."""
        device = read.device
        assert device is not None
        group = device.tenant.group
        # Not its fetch record: the first fetch of a generation writes it
        # (``fetched``), which would drop what that fetch kept.
        made_of = [
            keys.DIR_DEVICES,
            keys.DIR_VERSION,
            keys.sip_credentials(device.tenant.domain, device.id),
            keys.device(group, device.id),
        ]
        user = device.user
        if user is not None:
            user_key = keys.user(group, user.tenant, user.extension)
            profiles_key = keys.profiles(group, user.tenant, user.extension)
            made_of += [user_key, profiles_key]

            def commands(pipe: Batch) -> None:
                pipe.hmget(user_key, "name", "caller_id")
                pipe.hget(profiles_key, model_field(device.vendor, device.model))

            (name, caller_id), profile = await self._batcher.run([], commands)
            user = LoggedInUser(
                user.tenant, user.extension, name or user.extension, caller_id or ""
            )
            read = replace(read, device=replace(device, user=user), profile=profile or "")
        files.put(device.id, read, made_of, token)
        return read

    def fetched(self, device_id: str, generation: int) -> None:
        """The device's fetch of ``generation`` is recorded: what is kept of
        it says so (else every fetch from memory would record it again; an
        instance that did not record it records it once more)."""
        kept = self._files.get(device_id) if self._files is not None else None
        if kept is not None and kept.device is not None and kept.device.generation == generation:
            assert self._files is not None
            self._files.replace(device_id, replace(kept, fetched_generation=generation))

    def _guess(self, device_id: str | None) -> TenantConfig | None:
        tenant_id = self._tenant_of.get(device_id) if device_id is not None else None
        return None if tenant_id is None else self._tenants.by_id.get(tenant_id)

    def _remember(self, device_id: str, tenant: TenantConfig | None) -> None:
        if tenant is None:
            self._tenant_of.pop(device_id, None)
            return
        self._tenant_of[device_id] = tenant.id
        self._tenant_of.move_to_end(device_id)
        while len(self._tenant_of) > self._remembered:
            self._tenant_of.popitem(last=False)

    def _queue_file(
        self, pipe: Batch, tenant: TenantConfig | None, device_id: str, now_ms: int
    ) -> None:
        domain = tenant.domain if tenant is not None else _NO_DOMAIN
        pipe.hmget(keys.sip_credentials(domain, device_id), *_SECRET_FIELDS)
        if tenant is not None:
            queue(
                pipe,
                self._script,
                [
                    keys.device(tenant.group, device_id),
                    keys.provision_status(tenant.group, device_id),
                ],
                named({"prefix": keys.prefix(tenant.group), "now_ms": now_ms}),
                read_only=True,  # the provision user only reads devices
            )

    def _decode(
        self, tenant: TenantConfig | None, device_id: str, replies: Sequence[Any], now_ms: int
    ) -> DeviceFile:
        domain = tenant.domain if tenant is not None else _NO_DOMAIN
        secrets = _secrets(self._open, replies[0], domain, device_id, now_ms / 1000)
        if tenant is None:
            return DeviceFile(None, None, "", -1)
        f = unnamed(replies[1], _DEVICE_REPLY)
        device = self._record(tenant, device_id, f, secrets[0]) if f["mac"] else None
        ends = [_previous_until(replies[0], now_ms / 1000) * 1000]
        if device is not None and device.user is not None:
            ends.append(int(f["session_expires_ms"]))
        return DeviceFile(
            [s for s in secrets if s] if device is not None else None,
            device,
            f["profile"] if device is not None and device.user is not None else "",
            int(f["fetched_generation"]),
            min((end for end in ends if end), default=0),
        )

    async def for_file(
        self, tenant: TenantConfig | None, device_id: str, now_ms: int
    ) -> DeviceFile:
        """One round trip: the SIP secrets and the file's makings of the
        device ``device_id`` of ``tenant`` (None: no such device)."""
        replies = await self._batcher.run(
            [self._script],
            lambda pipe: self._queue_file(pipe, tenant, device_id, now_ms),
        )
        return self._decode(tenant, device_id, replies, now_ms)

    def _record(
        self, tenant: TenantConfig, device_id: str, f: dict[str, Any], secret: str
    ) -> DeviceRecord:
        user, utenant = None, self._tenants.by_id.get(f["user_tenant"])
        if f["extension"] and utenant is not None:
            ext = f["extension"]
            user = LoggedInUser(utenant.id, ext, f["name"] or ext, f["caller_id"])
        return DeviceRecord(
            id=device_id,
            tenant=tenant,
            mac=f["mac"],
            vendor=f["vendor"],
            model=f["model"],
            hotdesk=f["hotdesk"] == "1",
            secret=secret,
            generation=int(f["generation"]),
            user=user,
            user_tenant=utenant if user else None,
        )

    async def read(self, device_id: str, now_ms: int) -> DeviceRecord | None:
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None:
            return None
        return (await self.for_file(tenant, device_id, now_ms)).device
