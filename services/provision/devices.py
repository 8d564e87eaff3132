"""A device as the provisioning service needs it: directory entry, SIP
secret, who is logged in, at which generation — read from Redis in two
round trips."""

from dataclasses import dataclass

from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.lookup import DirectoryLookup
from services.kernel.tenants import TenantCache, TenantConfig
from services.provision.phone import LoggedInUser

_DEVICE_FIELDS = (
    "mac",
    "vendor",
    "model",
    "hotdesk",
    "user_tenant",
    "user_ext",
    "expires_ms",
    "gen",
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


class DeviceDirectory:
    def __init__(self, redis: Redis, tenants: TenantCache) -> None:
        self._redis = redis
        self._tenants = tenants
        self._lookup = DirectoryLookup(redis, tenants)

    async def device_of_mac(self, mac: str) -> str | None:
        device_id: str | None = await self._redis.hget(keys.DIR_MACS, mac)
        return device_id

    async def read(self, device_id: str, now_ms: int) -> DeviceRecord | None:
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None:
            return None
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.device(tenant.group, device_id), *_DEVICE_FIELDS)
            pipe.hget(keys.sip_credentials(tenant.domain, device_id), "secret")
            values, secret = await pipe.execute()
        mac, vendor, model, hotdesk, user_tenant, user_ext, expires, gen = values
        if mac is None:
            return None
        user, utenant = None, self._tenants.by_id.get(user_tenant or "")
        expired = bool(expires) and 0 < int(expires) <= now_ms
        if user_ext and utenant is not None and not expired:
            name, caller_id = await self._redis.hmget(
                keys.user(utenant.group, utenant.id, user_ext), "name", "caller_id"
            )
            user = LoggedInUser(utenant.id, user_ext, name or user_ext, caller_id or "")
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
