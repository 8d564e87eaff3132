"""Helpers of the admin tests that the API tests and the console's browser
tests share: an admin service that may import directories, the example
file's part of a tenant, what is stored of acme, the occupancy report once
it holds N intervals, a webhook once a delivery settled."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import yaml
from redis.asyncio import Redis

from services.directory.state import read_stored
from tests.directory.support import EXAMPLE
from tests.support.admin import AdminStack, Console, admin_stack
from tests.support.redis_server import RedisServer
from tests.support.secrets import pin_digest_key_file, secrets_key_file

WAIT_SECONDS = 15


@asynccontextmanager
async def importing_admin(redis_server: RedisServer) -> AsyncIterator[AdminStack]:
    """The admin service with the directory's credentials and keys: it
    takes tenant imports."""
    async with admin_stack(
        redis_server.url,
        directory_redis_url=redis_server.url,
        secrets_key_file=str(secrets_key_file()),
        pin_digest_key_file=str(pin_digest_key_file()),
    ) as s:
        yield s


def part(tenant: str) -> dict[str, Any]:
    """The example file's part of ``tenant``."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    return {
        "tenants": [t for t in doc["tenants"] if t["id"] == tenant],
        "users": [u for u in doc["users"] if u["tenant"] == tenant],
        "devices": [d for d in doc["devices"] if d["tenant"] == tenant],
    }


async def acme_of(redis: Redis) -> tuple[Any, ...]:
    """Everything stored of acme's: its tenant, users and devices, and the peers."""
    s = await read_stored(redis)
    return (
        s.tenants["acme"],
        {k: (u.fields, u.pin_hash) for k, u in s.users.items() if k[0] == "acme"},
        {i: (d.fields, d.ha1) for i, d in s.devices.items() if d.tenant.id == "acme"},
        {n: (p.config, p.ha1) for n, p in s.peers.items()},
        s.peer_sources_digest,
    )


async def occupancy(console: Console, count: int, query: str = "") -> list[dict[str, Any]]:
    """The occupancy report's items once it holds ``count`` (bounded wait)."""
    for _ in range(WAIT_SECONDS * 10):
        page = await console.call("GET", f"/api/v1/occupancy?limit=500{query}", 200)
        if len(page["items"]) >= count:
            items: list[dict[str, Any]] = page["items"]
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"the report has {page['items']}, not {count} intervals")


async def some_sessions(admin: AdminStack) -> None:
    """Four closed intervals: three of acme's (one ended by a takeover),
    one of globex's."""
    s = admin.stack
    await s.login("hd3001", "1001")
    await s.logout("hd3001")
    await s.login("hd3002", "1002")
    await s.login("hd3002", "1003")  # a takeover
    await s.logout("hd3002")
    await s.login("gx4001", "3001", tenant="globex")
    await s.logout("gx4001")


async def webhook(admin: AdminStack, operator: str, webhook_id: str) -> dict[str, Any]:
    async with admin.with_token(operator) as script:
        view: dict[str, Any] = await script.call("GET", f"/api/v1/webhooks/{webhook_id}", 200)
    return view


async def settled(admin: AdminStack, webhook_id: str, outcome: str) -> dict[str, Any]:
    """The webhook once its ``outcome`` counter is 1 (bounded wait)."""
    for _ in range(WAIT_SECONDS * 10):
        view = await webhook(admin, "root", webhook_id)
        if view[outcome]:
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"webhook {webhook_id}: no {outcome} delivery: {view}")
