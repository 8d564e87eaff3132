"""Tenant scoping: a tenant's admin sees and touches nothing of another
tenant's (404, never 403), and every list holds only its tenants."""

import pytest

from tests.support.admin import AdminStack


async def test_globex_admin_lists_only_globex(admin: AdminStack) -> None:
    async with admin.signed_in("gx-admin") as gx:
        devices = await gx.call("GET", "/api/v1/devices", 200)
        users = await gx.call("GET", "/api/v1/users", 200)
        acme_filter = await gx.call("GET", "/api/v1/devices?tenant=acme", 200)
    assert {d["tenant"] for d in devices["items"]} == {"globex"}
    assert [d["device_id"] for d in devices["items"]] == ["gx4001"]
    assert {u["tenant"] for u in users["items"]} == {"globex"}
    assert acme_filter["items"] == []


async def test_platform_admin_lists_every_tenant(admin: AdminStack) -> None:
    async with admin.signed_in("root") as root:
        devices = await root.call("GET", "/api/v1/devices", 200)
    assert [d["device_id"] for d in devices["items"]] == ["gx4001", "hd3001", "hd3002", "hd3003"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/devices/hd3001", None),
        ("POST", "/api/v1/devices/hd3001/logout", None),
        ("POST", "/api/v1/devices/hd3001/resync", None),
        ("POST", "/api/v1/devices/hd3001/login", {"tenant": "acme", "extension": "1001"}),
        ("GET", "/api/v1/users/acme/1001", None),
        ("POST", "/api/v1/users/acme/1001/logout", None),
        ("POST", "/api/v1/users/acme/1001/unlock", {}),
        ("PUT", "/api/v1/users/acme/1001/pin", {"pin": "8642"}),
        # Globex's device, acme's user: the user is not globex's to log in.
        ("POST", "/api/v1/devices/gx4001/login", {"tenant": "acme", "extension": "1001"}),
    ],
)
async def test_another_tenants_object_is_not_found(
    admin: AdminStack, method: str, path: str, body: object
) -> None:
    await admin.stack.login("hd3001", "1001")
    async with admin.signed_in("gx-admin") as gx:
        answer = await gx.call(method, path, 404, body)
    assert answer["error"].startswith("no ")
    # And nothing happened to acme's desk.
    state = await admin.stack.binding.core.get_by_device("hd3001")
    assert state is not None and state.binding.extension == "1001"


async def test_the_audit_trail_holds_only_the_operators_tenants(admin: AdminStack) -> None:
    async with admin.signed_in("acme-admin") as acme:
        await acme.call("POST", "/api/v1/devices/hd3002/logout", 200)
    async with admin.signed_in("gx-admin") as gx:
        await gx.call("POST", "/api/v1/devices/gx4001/logout", 200)
        trail = await gx.call("GET", "/api/v1/audit", 200)
        acme_trail = await gx.call("GET", "/api/v1/audit?tenant=acme", 200)
    assert {e["tenant"] for e in trail["items"]} == {"globex"}
    assert acme_trail["items"] == []


async def test_a_helpdesk_reads_logs_out_and_unlocks_but_sets_no_pin(admin: AdminStack) -> None:
    await admin.stack.login("hd3001", "1001")
    async with admin.signed_in("acme-help") as help:
        await help.call("GET", "/api/v1/devices/hd3001", 200)
        await help.call("POST", "/api/v1/users/acme/1001/unlock", 200, {})
        refused = await help.call("PUT", "/api/v1/users/acme/1001/pin", 403, {"pin": "8642"})
        await help.call(
            "POST", "/api/v1/devices/hd3002/login", 403, {"tenant": "acme", "extension": "1002"}
        )
        await help.call("POST", "/api/v1/devices/hd3001/logout", 200)
    assert "helpdesk may not set_pin" in refused["error"]
    assert (await admin.stack.binding.core.get_by_device("hd3001")).binding.extension == ""  # type: ignore[union-attr]
