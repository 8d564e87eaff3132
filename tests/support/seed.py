"""Write tenants, users and devices straight into the Redis schema, for
tests of the services that read them (the directory importer has its own
tests and is the real way in)."""

import hashlib

from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.peers import PeerConfig
from services.kernel.tenants import TenantConfig, Unavailable


async def tenant(redis: Redis, config: TenantConfig) -> TenantConfig:
    await redis.hset(keys.DIR_TENANTS, config.id, config.model_dump_json())
    await redis.hset(keys.DIR_DOMAINS, config.domain, config.id)
    await redis.incr(keys.DIR_VERSION)
    return config


async def user(
    redis: Redis,
    t: TenantConfig,
    extension: str,
    name: str = "",
    *,
    caller_id: str = "",
    hotdesk: bool = True,
    hotdesk_id: str = "",
    dids: tuple[str, ...] = (),
    unavailable: Unavailable | None = None,
) -> None:
    await redis.hset(
        keys.user(t.group, t.id, extension),
        mapping={
            "name": name or f"User {extension}",
            "caller_id": caller_id or f"+49301234{extension}",
            "hotdesk": "1" if hotdesk else "0",
            "hotdesk_id": hotdesk_id,
            "dids": ",".join(dids),
            "unavailable": unavailable.model_dump_json() if unavailable else "",
        },
    )
    await redis.sadd(keys.tenant_users(t.group, t.id), extension)
    if hotdesk_id:
        await redis.hset(keys.DIR_HOTDESK_IDS, hotdesk_id, f"{t.id}/{extension}")
    for number in dids:
        await redis.hset(keys.DIR_NUMBERS, number, f"{t.id}/{extension}")
    if dids:
        await redis.incr(keys.DIR_VERSION)


async def peer(redis: Redis, config: PeerConfig) -> PeerConfig:
    await redis.hset(keys.DIR_PEERS, config.name, config.model_dump_json())
    await redis.incr(keys.DIR_VERSION)
    return config


async def device(
    redis: Redis,
    t: TenantConfig,
    device_id: str,
    *,
    hotdesk: bool = True,
    emergency_cid: str = "+4930123450000",
) -> None:
    await redis.hset(
        keys.device(t.group, device_id),
        mapping={
            "tenant": t.id,
            "mac": "001565" + hashlib.sha1(device_id.encode()).hexdigest()[:6],
            "vendor": "yealink",
            "model": "T54W",
            "emergency_cid": emergency_cid,
            "hotdesk": "1" if hotdesk else "0",
        },
    )
    await redis.sadd(keys.tenant_devices(t.group, t.id), device_id)
    await redis.hset(keys.DIR_DEVICES, device_id, t.id)
