"""Users' phone profiles: keys and settings per vendor/model.

One Redis hash per user (``keys.profiles``), one field per model, so a
user's profiles live in the user's group slot and leave with the user. The
first time a user needs a profile for a model (a login there, or an
operator reading it) it is created from the tenant's profile for that make
and model (``phone_profiles``), else from the tenant's default keys, and it
stays after logout for the next login on that model.
"""

import json
import logging

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.logs import fields
from services.kernel.tenants import ProfileKey, TenantConfig

log = logging.getLogger(__name__)


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: tuple[ProfileKey, ...] = Field(default=(), max_length=100)
    ringer: int = Field(default=1, ge=1, le=8)
    updated_ms: int = 0


def model_field(vendor: str, model: str) -> str:
    return f"{vendor}/{model}"


class ProfileStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get_or_create(
        self, tenant: TenantConfig, extension: str, vendor: str, model: str, now_ms: int
    ) -> Profile:
        """The user's profile for the model, created from the tenant's
        default if there is none (HSETNX: two first fetches agree)."""
        name = keys.profiles(tenant.group, tenant.id, extension)
        field = model_field(vendor, model)
        stored = await self._redis.hget(name, field)
        if stored is not None:
            return Profile.model_validate_json(stored)
        start_keys, ringer = tenant.starting_profile(vendor, model)
        fresh = Profile(keys=start_keys, ringer=ringer, updated_ms=now_ms)
        if await self._redis.hsetnx(name, field, fresh.model_dump_json()):
            log.info(
                "profile_created",
                extra=fields(user=f"{tenant.id}/{extension}", model=field, keys=len(fresh.keys)),
            )
            return fresh
        return Profile.model_validate_json(await self._redis.hget(name, field))

    async def put(
        self, tenant: TenantConfig, extension: str, vendor: str, model: str, profile: Profile
    ) -> None:
        name = keys.profiles(tenant.group, tenant.id, extension)
        await self._redis.hset(name, model_field(vendor, model), profile.model_dump_json())

    async def delete(self, tenant: TenantConfig, extension: str, vendor: str, model: str) -> bool:
        name = keys.profiles(tenant.group, tenant.id, extension)
        return bool(await self._redis.hdel(name, model_field(vendor, model)))

    async def all(self, tenant: TenantConfig, extension: str) -> dict[tuple[str, str], Profile]:
        """Every stored profile of the user by (vendor, model)."""
        raw = await self._redis.hgetall(keys.profiles(tenant.group, tenant.id, extension))
        out = {}
        for field, doc in sorted(raw.items()):
            vendor, _, model = field.partition("/")
            out[(vendor, model)] = Profile.model_validate(json.loads(doc))
        return out
