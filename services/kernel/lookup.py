"""Resolving directory names: a device's tenant, and a user named by
(tenant, extension) or by a globally unique hot-desk id."""

from dataclasses import dataclass

from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.tenants import TenantCache, TenantConfig


class IncompleteUserRef(ValueError):
    """Neither (tenant, extension) nor a hot-desk id was given."""


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
