"""A device as the provisioning service needs it: directory entry, SIP
secret, who is logged in, at which generation — read from Redis.

``read_sip_secrets`` is the one place this service reads a device's SIP
secrets: the current one (its file password and what its file carries) and
a replaced one still in its grace window (a file password too: the phone
fetches the file that tells it the new secret with the old one)."""

import asyncio
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from services.auth.credentials import PREVIOUS_SEALED, PREVIOUS_UNTIL
from services.kernel import keys, sessions
from services.kernel.logs import fields
from services.kernel.lookup import DirectoryLookup
from services.kernel.secretbox import SealError, SecretBox, sip_secret_context
from services.kernel.tenants import TenantCache, TenantConfig
from services.provision.phone import LoggedInUser

log = logging.getLogger(__name__)

_DEVICE_FIELDS = ("mac", "vendor", "model", "hotdesk", sessions.GENERATION, *sessions.FIELDS)


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


def _open(box: SecretBox, sealed: str | None, domain: str, device_id: str) -> str:
    if not sealed:
        return ""
    try:
        return box.open(sealed, sip_secret_context(domain, device_id))
    except SealError:
        log.error("sip_secret_unreadable", extra=fields(device=device_id, domain=domain))
        return ""


async def read_sip_secrets(
    redis: Redis, box: SecretBox, domain: str, device_id: str, now_s: float | None = None
) -> tuple[str, str]:
    """The device's SIP secret and a replaced one still valid at ``now_s``
    (each "" if there is none, or its sealed copy does not open: logged).
    One Redis round trip."""
    sealed, previous, until = await redis.hmget(
        keys.sip_credentials(domain, device_id), "secret_sealed", PREVIOUS_SEALED, PREVIOUS_UNTIL
    )
    now = time.time() if now_s is None else now_s
    if not until or not until.isdigit() or int(until) <= now:
        previous = None
    return _open(box, sealed, domain, device_id), _open(box, previous, domain, device_id)


class DeviceDirectory:
    def __init__(self, redis: Redis, tenants: TenantCache, box: SecretBox) -> None:
        self._redis = redis
        self._tenants = tenants
        self._box = box
        self._lookup = DirectoryLookup(redis, tenants)

    async def digest_passwords(self, device_id: str) -> list[str] | None:
        """The file passwords of ``device_id``: its SIP secret, and a
        replaced one in its grace window; [] when it has none, None when
        there is no such device. Known and unknown ids cost the same two
        round trips, so the time to a 401 tells nothing about which exist."""
        tenant = await self._lookup.device_tenant(device_id)
        domain = tenant.domain if tenant is not None else _NO_DOMAIN
        secrets = await read_sip_secrets(self._redis, self._box, domain, device_id)
        return [s for s in secrets if s] if tenant is not None else None

    async def read(self, device_id: str, now_ms: int) -> DeviceRecord | None:
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None:
            return None
        values, secrets = await asyncio.gather(
            self._redis.hmget(keys.device(tenant.group, device_id), *_DEVICE_FIELDS),
            read_sip_secrets(self._redis, self._box, tenant.domain, device_id),
        )
        mac, vendor, model, hotdesk, gen, *session_fields = values
        secret = secrets[0]
        if mac is None:
            return None
        user, utenant = None, None
        session = sessions.live(session_fields, now_ms)
        if session is not None:
            utenant = self._tenants.by_id.get(session.tenant)
        if session is not None and utenant is not None:
            name, caller_id = await self._redis.hmget(
                keys.user(utenant.group, utenant.id, session.extension), "name", "caller_id"
            )
            user = LoggedInUser(
                utenant.id, session.extension, name or session.extension, caller_id or ""
            )
        return DeviceRecord(
            id=device_id,
            tenant=tenant,
            mac=mac,
            vendor=vendor or "",
            model=model or "",
            hotdesk=hotdesk == "1",
            secret=secret or "",
            generation=int(gen or 0),
            user=user,
            user_tenant=utenant if user else None,
        )
