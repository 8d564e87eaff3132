"""The shared kernel against a real redis-server."""

import json
import logging

from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.logs import JsonFormatter, fields
from services.kernel.tenants import TenantCache, TenantConfig


async def test_tenant_cache_reloads_only_on_version_change(redis: Redis) -> None:
    acme = TenantConfig(id="acme", domain="acme.example")
    await redis.hset(keys.DIR_TENANTS, "acme", acme.model_dump_json())
    await redis.set(keys.DIR_VERSION, 1)
    cache = TenantCache(redis)
    assert await cache.refresh() is True
    assert cache.by_domain["acme.example"].id == "acme"
    assert await cache.refresh() is False

    beta = TenantConfig(id="beta", domain="beta.example", cross_tenant_group="shared")
    await redis.hset(keys.DIR_TENANTS, "beta", beta.model_dump_json())
    await redis.incr(keys.DIR_VERSION)
    assert await cache.refresh() is True
    assert cache.by_id["beta"].group == "shared"
    assert cache.by_id["acme"].group == "acme"


def test_group_keys_share_a_hash_tag() -> None:
    device = keys.device("acme", "hd3001")
    user = keys.user("acme", "acme", "1001")
    stream = keys.events("acme")
    for key in (device, user, stream):
        assert key[key.index("{") : key.index("}") + 1] == "{acme}"


def test_json_log_lines_carry_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "login", None, None)
    record.__dict__.update(fields(device="hd3001", user="1001"))
    entry = json.loads(JsonFormatter().format(record))
    assert entry["event"] == "login"
    assert entry["device"] == "hd3001"
    assert entry["level"] == "info"
