"""Resolving directory names: a device's tenant, a user named by (tenant,
extension) or by a globally unique hot-desk id, and the user a person names
when logging in at a desk (``DirectoryLookup.login_name``)."""

from dataclasses import dataclass

from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.tenants import TenantCache, TenantConfig


class IncompleteUserRef(ValueError):
    """Neither (tenant, extension) nor a hot-desk id was given."""


class AmbiguousLoginName(ValueError):
    """What was typed at a desk names more than one user."""


# Fewer digits are an extension only: E.164 numbers (country code included)
# are longer, and a short login never costs the caller-ID scan.
NUMBER_MIN_DIGITS = 7


def e164(typed: str) -> str | None:
    """``typed`` as an E.164 number (``+4930…``, ``004930…`` or ``4930…``),
    or None when it is too short or not a number."""
    if typed.startswith("+"):
        digits = typed[1:]
    elif typed.startswith("00"):
        digits = typed[2:]
    else:
        digits = typed
    if len(digits) < NUMBER_MIN_DIGITS or not digits.isdigit():
        return None
    return "+" + digits


@dataclass(frozen=True)
class UserName:
    tenant: TenantConfig
    extension: str

    @property
    def key(self) -> str:
        return keys.user(self.tenant.group, self.tenant.id, self.extension)

    def __str__(self) -> str:
        return f"{self.tenant.id}/{self.extension}"


class DirectoryLookup:
    def __init__(self, redis: Redis, tenants: TenantCache) -> None:
        self._redis = redis
        self.tenants = tenants

    async def tenant(self, tenant_id: str) -> TenantConfig | None:
        """A tenant by id; reloads the cache once if it does not know it yet."""
        tenant = self.tenants.by_id.get(tenant_id)
        if tenant is None and await self.tenants.refresh():
            tenant = self.tenants.by_id.get(tenant_id)
        return tenant

    async def device_tenant(self, device_id: str) -> TenantConfig | None:
        tenant_id = await self._redis.hget(keys.DIR_DEVICES, device_id)
        return None if tenant_id is None else await self.tenant(tenant_id)

    async def user(self, tenant_id: str, extension: str, hotdesk_id: str) -> UserName | None:
        """The user's name resolved (not whether the user exists)."""
        if hotdesk_id:
            target = await self._redis.hget(keys.DIR_HOTDESK_IDS, hotdesk_id)
            if target is None:
                return None
            tenant_id, extension = target.split("/", 1)
        elif not (tenant_id and extension):
            raise IncompleteUserRef("a user needs tenant and extension, or hotdesk_id")
        tenant = await self.tenant(tenant_id)
        return None if tenant is None else UserName(tenant, extension)

    async def login_name(self, tenant_id: str, typed: str) -> UserName | None:
        """The one user ``typed`` names at a desk of ``tenant_id``: an
        extension of that tenant, a hot-desk id, a DID (any tenant), or the
        caller ID of a user of that tenant. None when it names nobody;
        ``AmbiguousLoginName`` when it names more than one user."""
        tenant = await self.tenant(tenant_id)
        if tenant is None or not typed:
            return None
        found: set[str] = set()  # "tenant/extension"
        number = e164(typed)
        users = keys.tenant_users(tenant.group, tenant.id)
        if await self._redis.sismember(users, typed):
            found.add(f"{tenant.id}/{typed}")
        # Hot-desk ids are lowercase; a phone's keypad may type capitals.
        for index, name in ((keys.DIR_HOTDESK_IDS, typed.lower()), (keys.DIR_NUMBERS, number)):
            target = await self._redis.hget(index, name) if name else None
            if target is not None:
                found.add(target)
        if number is not None:
            found |= {f"{tenant.id}/{e}" for e in await self._caller_ids(tenant, number)}
        if len(found) > 1:
            raise AmbiguousLoginName(f"{typed!r} names {len(found)} users")
        if not found:
            return None
        target_tenant, extension = found.pop().split("/", 1)
        owner = await self.tenant(target_tenant)
        return None if owner is None else UserName(owner, extension)

    async def _caller_ids(self, tenant: TenantConfig, number: str) -> list[str]:
        """The extensions of ``tenant`` whose caller ID is ``number`` (one
        round trip over the tenant's users)."""
        extensions = sorted(await self._redis.smembers(keys.tenant_users(tenant.group, tenant.id)))
        if not extensions:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for extension in extensions:
                pipe.hget(keys.user(tenant.group, tenant.id, extension), "caller_id")
            caller_ids = await pipe.execute()
        return [e for e, c in zip(extensions, caller_ids, strict=True) if c == number]
