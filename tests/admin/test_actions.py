"""Operator actions through the API reach the services behind, and the
audit trail names the operator."""

import asyncio
import json

import aiohttp
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as bpb

from services.kernel import keys
from tests.support.admin import AdminStack


async def test_the_board_shows_who_is_on_each_device(admin: AdminStack) -> None:
    await admin.stack.login("hd3002", "1002")
    async with admin.with_token("acme-admin") as script:
        board = await script.call("GET", "/api/v1/devices?state=bound", 200)
        idle = await script.call("GET", "/api/v1/devices?state=idle", 200)
        by_user = await script.call("GET", "/api/v1/devices?user=acme/1002", 200)
    assert [(d["device_id"], d["session"]["extension"]) for d in board["items"]] == [
        ("hd3002", "1002")
    ]
    assert board["items"][0]["session"]["name"] == "Bob Example"
    assert [d["device_id"] for d in idle["items"]] == ["hd3001", "hd3003"]
    assert [d["device_id"] for d in by_user["items"]] == ["hd3002"]


async def test_lists_page_with_a_cursor(admin: AdminStack) -> None:
    async with admin.with_token("root") as script:
        seen, cursor, pages = [], "", 0
        for _ in range(10):
            page = await script.call("GET", f"/api/v1/devices?limit=3{cursor}", 200)
            seen += [d["device_id"] for d in page["items"]]
            pages += 1
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        users = await script.call("GET", "/api/v1/users?tenant=acme&limit=2", 200)
        rest = await script.call(
            "GET", f"/api/v1/users?tenant=acme&cursor={users['next_cursor']}", 200
        )
    assert seen == ["gx4001", "hd3001", "hd3002", "hd3003"] and pages == 2
    assert [u["extension"] for u in users["items"] + rest["items"]] == [
        "1001",
        "1002",
        "1003",
        "2001",
    ]


async def test_force_logout_ends_the_session_and_the_audit_names_the_operator(
    admin: AdminStack,
) -> None:
    await admin.stack.login("hd3001", "1001")
    async with admin.signed_in("acme-admin") as acme:
        outcome = await acme.call("POST", "/api/v1/devices/hd3001/logout", 200)
        again = await acme.call("POST", "/api/v1/devices/hd3001/logout", 200)
        trail = await acme.call("GET", "/api/v1/audit?event=admin_logout&device=hd3001", 200)
    assert outcome["result"] == "logged_out" and outcome["ended"]["extension"] == "1001"
    assert again["result"] == "not_logged_in"
    by_user = await admin.stack.binding.core.get_by_user(
        bpb.UserRef(tenant="acme", extension="1001")
    )
    assert by_user.known and not by_user.HasField("binding")
    assert [e["actor"] for e in trail["items"]] == ["service:admin/acme-admin"] * 2
    # The binding's own event names the operator too.
    group = admin.stack.binding.tenants.by_id["acme"].group
    events = await admin.stack.binding.redis.xrevrange(keys.events(group), count=1)
    assert events[0][1]["actor"] == "service:admin/acme-admin"
    assert events[0][1]["reason"] == "operator"


async def test_login_on_behalf_then_user_logout(admin: AdminStack) -> None:
    async with admin.with_token("acme-admin") as script:
        body = {"tenant": "acme", "extension": "1003"}
        login = await script.call("POST", "/api/v1/devices/hd3003/login", 200, body)
        occupied = await script.call(
            "POST", "/api/v1/devices/hd3003/login", 200, {"tenant": "acme", "extension": "1001"}
        )
        user = await script.call("GET", "/api/v1/users/acme/1003", 200)
        out = await script.call("POST", "/api/v1/users/acme/1003/logout", 200)
    assert login["result"] == "logged_in" and login["session"]["extension"] == "1003"
    assert occupied["result"] == "device_occupied"
    assert user["device"] == "hd3003"
    assert out["result"] == "logged_out"


async def test_pin_reset_follows_the_pin_policy_and_the_new_pin_works(admin: AdminStack) -> None:
    async with admin.with_token("acme-admin") as script:
        weak = await script.call("PUT", "/api/v1/users/acme/1001/pin", 400, {"pin": "1234"})
        await script.call("PUT", "/api/v1/users/acme/1001/pin", 204, {"pin": "8642"})
        trail = await script.call("GET", "/api/v1/audit?user=acme/1001", 200)
    assert "consecutive" in weak["error"]
    verified = await admin.stack.auth.core.verify_pin(
        bpb.UserRef(tenant="acme", extension="1001"), "hd3001", "8642", "test"
    )
    assert verified.result == apb.PIN_RESULT_OK
    events = [(e["event"], e["actor"]) for e in trail["items"]]
    assert ("admin_pin_reset", "service:admin/acme-admin") in events
    assert ("pin_set", "service:admin/acme-admin") in events  # the auth service's own entry


async def test_unlock_clears_a_lockout(admin: AdminStack) -> None:
    user = bpb.UserRef(tenant="acme", extension="1003")
    for _ in range(8):
        await admin.stack.auth.core.verify_pin(user, "hd3003", "0000", "test")
    locked = await admin.stack.auth.core.verify_pin(user, "hd3003", "5173", "test")
    assert locked.result != apb.PIN_RESULT_OK
    async with admin.with_token("acme-help") as script:
        cleared = await script.call(
            "POST", "/api/v1/users/acme/1003/unlock", 200, {"device_id": "hd3003"}
        )
    assert cleared["cleared"] > 0
    ok = await admin.stack.auth.core.verify_pin(user, "hd3003", "5173", "test")
    assert ok.result == apb.PIN_RESULT_OK


async def test_the_event_stream_shows_logins_and_logouts_of_the_operators_tenants(
    admin: AdminStack,
) -> None:
    async with (
        admin.with_token("gx-admin") as script,
        script.http.get("/api/v1/events") as stream,
    ):
        assert stream.status == 200
        assert stream.content_type == "text/event-stream"
        assert await stream.content.readline() == b": connected\n"
        await admin.stack.login("hd3001", "1001")  # acme: not shown
        await admin.stack.login("gx4001", "3001", tenant="globex")
        await admin.stack.logout("gx4001")
        lines: list[str] = []
        async with asyncio.timeout(10):
            while len([line for line in lines if line.startswith("data:")]) < 2:
                line = (await stream.content.readline()).decode().strip()
                if line and not line.startswith(":"):
                    lines.append(line)
    kinds = [line.split(": ", 1)[1] for line in lines if line.startswith("event:")]
    data = [json.loads(line.split(": ", 1)[1]) for line in lines if line.startswith("data:")]
    assert kinds == ["login", "logout"]
    assert [d["device"] for d in data] == ["gx4001", "gx4001"]
    assert data[0]["new_user"] == "globex/3001"


async def test_more_viewers_at_once_than_redis_connections_all_get_the_board(
    admin: AdminStack,
) -> None:
    """Redis's connection pool holds 100; requests beyond
    max_requests_in_flight wait their turn instead of failing (they got 500
    before, found by make bench)."""
    async with admin.with_token("root") as script:
        token = script.http.headers["Authorization"]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        admin.url, connector=connector, headers={"Authorization": token}
    ) as http:

        async def board() -> int:
            async with http.get("/api/v1/devices?limit=50") as r:
                await r.read()
                return r.status

        statuses = await asyncio.gather(*(board() for _ in range(150)))
    assert set(statuses) == {200}


async def test_requests_are_counted_by_operation_and_status(admin: AdminStack) -> None:
    async with admin.with_token("gx-admin") as script:
        await script.call("GET", "/api/v1/devices", 200)
        await script.call("GET", "/api/v1/devices/hd3001", 404)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{admin.admin.ops_port}/metrics") as r,
    ):
        text = await r.text()
    assert 'hotdesk_admin_requests_total{operation="list_devices",status="200"}' in text
    assert 'hotdesk_admin_requests_total{operation="get_device",status="404"}' in text
