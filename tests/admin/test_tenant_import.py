"""A tenant's admin imports its tenant's part of the directory through the
API: a dry run returns the diff and writes nothing; applying writes that
tenant only (acme's entries are exactly as before); another tenant's part
is not the admin's to import (404)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from redis.asyncio import Redis

from services.directory.state import read_stored
from tests.admin.support import acme_of, importing_admin, part
from tests.directory.support import dump
from tests.support.admin import AdminStack
from tests.support.redis_server import RedisServer

URL = "/api/v1/tenants/{}/directory"


@pytest.fixture
async def admin(redis: Redis, redis_server: RedisServer) -> AsyncIterator[AdminStack]:
    async with importing_admin(redis_server) as s:
        yield s


def globex_changed() -> dict[str, Any]:
    """Gus renamed, a new user, globex's only device gone."""
    doc = part("globex")
    doc["users"][0]["name"] = "Gus Renamed"
    doc["users"].append(
        {
            "tenant": "globex",
            "extension": "3002",
            "name": "Hal Globex",
            "caller_id": "+442071234002",
            "hotdesk": True,
        }
    )
    doc["devices"] = []
    return doc


async def test_a_dry_run_shows_the_diff_and_writes_nothing(admin: AdminStack, redis: Redis) -> None:
    before = await dump(redis)
    async with admin.with_token("gx-admin") as gx:
        body = {"directory": yaml.safe_dump(globex_changed())}
        outcome = await gx.call("POST", URL.format("globex") + "?dry_run=true", 200, body)
    assert outcome["dry_run"] is True
    assert [(c["action"], c["kind"], c["name"]) for c in outcome["changes"]] == [
        ("change", "user", "globex/3001"),
        ("add", "user", "globex/3002"),
        ("remove", "device", "gx4001"),
    ]
    assert outcome["changes"][0]["changes"] == ["name Gus Globex -> Gus Renamed"]
    # The audit trail and token aside, Redis holds what it held.
    after = await dump(redis)
    assert {k: v for k, v in after.items() if "{_admin}" not in k} == {
        k: v for k, v in before.items() if "{_admin}" not in k
    }


async def test_apply_writes_that_tenant_only(admin: AdminStack, redis: Redis) -> None:
    acme = await acme_of(redis)
    await admin.stack.login("hd3001", "1001")
    async with admin.with_token("gx-admin") as gx:
        body = {"directory": yaml.safe_dump(globex_changed())}
        outcome = await gx.call("POST", URL.format("globex"), 200, body)
        again = await gx.call("POST", URL.format("globex"), 200, body)
    assert outcome["dry_run"] is False and len(outcome["changes"]) == 3
    assert again["changes"] == [] and again["version"] == outcome["version"]
    stored = await read_stored(redis)
    assert stored.users[("globex", "3001")].fields["name"] == "Gus Renamed"
    assert ("globex", "3002") in stored.users
    assert "gx4001" not in stored.devices
    assert await acme_of(redis) == acme
    # Alice's session at an acme desk went on.
    assert stored.devices["hd3001"].user == "acme/1001"


async def test_another_tenants_part_is_refused(admin: AdminStack, redis: Redis) -> None:
    before = await acme_of(redis)
    acme_part = {"directory": yaml.safe_dump(part("acme"))}
    async with admin.with_token("gx-admin") as gx:
        await gx.call("POST", URL.format("acme"), 404, acme_part)
        await gx.call("POST", URL.format("nope"), 404, acme_part)
        # globex's URL, acme's entries: not globex's part.
        refused = await gx.call("POST", URL.format("globex"), 400, acme_part)
        assert "declares that tenant (globex) and no other" in refused["error"]
        taken = globex_changed()
        taken["users"][1]["hotdesk_id"] = "alice"  # acme's Alice's
        refused = await gx.call(
            "POST", URL.format("globex"), 400, {"directory": yaml.safe_dump(taken)}
        )
        assert "hot-desk id 'alice' is another tenant's" in refused["error"]
        invalid = await gx.call("POST", URL.format("globex"), 400, {"directory": "users: 3"})
        assert "problem(s)" in invalid["error"]
    async with admin.with_token("acme-help") as helpdesk:
        await helpdesk.call("POST", URL.format("acme"), 403, acme_part)
    assert await acme_of(redis) == before
    # A platform admin imports any tenant's part.
    async with admin.with_token("root") as root:
        outcome = await root.call("POST", URL.format("acme") + "?dry_run=true", 200, acme_part)
    assert outcome["changes"] == []
