"""Signed webhooks: a real HTTP receiver on 127.0.0.1 gets each login and
logout of its tenant, signed with the secret shown at registration; other
tenants' events never reach it; refusals are retried and the outcome is
recorded on the webhook."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hotdesk.v1 import binding_pb2 as bpb
from redis.asyncio import Redis

from services.admin import metrics
from tests.admin.support import settled
from tests.support.admin import AdminStack, admin_stack
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.webhook_receiver import receiver


@pytest.fixture
async def admin(redis: Redis, redis_server: RedisServer) -> AsyncIterator[AdminStack]:
    async with admin_stack(redis_server.url, webhook_attempts=3) as s:
        yield s


async def _register(
    admin: AdminStack, operator: str, url: str, tenant: str | None
) -> dict[str, Any]:
    async with admin.with_token(operator) as script:
        created: dict[str, Any] = await script.call(
            "POST", "/api/v1/webhooks", 201, {"url": url, "tenant": tenant}
        )
    return created


async def test_a_login_and_logout_reach_the_tenants_webhook_signed(admin: AdminStack) -> None:
    async with receiver("/acme") as acme, receiver("/globex") as globex:
        acme_hook = await _register(admin, "acme-admin", acme.url, "acme")
        globex_hook = await _register(admin, "gx-admin", globex.url, "globex")
        assert acme_hook["secret"].startswith("whsec_")
        assert acme_hook["webhook"]["tenant"] == "acme"

        # A real login through the binding service's gRPC API, then a logout.
        binding = admin.stack.binding_stub()
        login = await binding.Login(
            bpb.LoginRequest(device_id="hd3001", user=bpb.UserRef(tenant="acme", extension="1001"))
        )
        assert login.result == bpb.LOGIN_RESULT_LOGGED_IN
        await binding.Logout(bpb.LogoutRequest(device_id="hd3001"))
        first, second = await acme.next(2)
        # Then one of globex's: the only one its webhook gets.
        await admin.stack.login("gx4001", "3001", tenant="globex")
        (gx,) = await globex.next(1)

    for delivery in (first, second):
        assert delivery.verified_by(acme_hook["secret"])
        assert not delivery.verified_by(globex_hook["secret"])
        assert delivery.headers["Content-Type"] == "application/json"
        assert delivery.headers["X-Hotdesk-Webhook"] == acme_hook["webhook"]["id"]
        assert delivery.headers["X-Hotdesk-Event"] == delivery.event["id"]
    assert (first.event["type"], first.event["device"], first.event["new_user"]) == (
        "login",
        "hd3001",
        "acme/1001",
    )
    assert (second.event["type"], second.event["old_user"]) == ("logout", "acme/1001")
    assert first.event["device_tenant"] == "acme"
    assert gx.verified_by(globex_hook["secret"])
    assert (gx.event["type"], gx.event["new_user"]) == ("login", "globex/3001")
    assert len(acme.got) == 2 and len(globex.got) == 1

    view = await settled(admin, acme_hook["webhook"]["id"], "delivered")
    assert view["last_status"] == 204 and view["failed"] == 0


async def test_refusals_are_retried_and_the_outcome_recorded(admin: AdminStack) -> None:
    failures = metrics.WEBHOOK_FAILURES._value.get()
    async with receiver("/flaky", refuse_first=2) as flaky:
        hook = await _register(admin, "root", flaky.url, None)
        # Nothing listens here: every attempt fails.
        dead = await _register(admin, "root", f"http://127.0.0.1:{free_port()}/gone", "acme")
        await admin.stack.login("hd3002", "1002")
        attempts = await flaky.next(3)
        delivered = await settled(admin, hook["webhook"]["id"], "delivered")
        gave_up = await settled(admin, dead["webhook"]["id"], "failed")

    # The same event, signed again at each attempt.
    assert len({a.body for a in attempts}) == 1
    assert all(a.verified_by(hook["secret"]) for a in attempts)
    assert (delivered["delivered"], delivered["failed"], delivered["last_status"]) == (1, 0, 204)
    assert delivered["last_event"] == attempts[0].event["id"]
    assert (gave_up["delivered"], gave_up["failed"], gave_up["last_status"]) == (0, 1, 0)
    assert gave_up["last_error"]
    assert metrics.WEBHOOK_FAILURES._value.get() - failures == 1


async def test_webhooks_are_scoped_to_the_operators_tenants(admin: AdminStack) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    mine = await _register(admin, "gx-admin", url, "globex")
    theirs = await _register(admin, "acme-admin", url, "acme")
    everyone = await _register(admin, "root", url, None)
    theirs_id, mine_id = theirs["webhook"]["id"], mine["webhook"]["id"]
    async with admin.with_token("gx-admin") as gx:
        listed = await gx.call("GET", "/api/v1/webhooks", 200)
        assert [h["id"] for h in listed["items"]] == [mine_id]
        assert "secret" not in listed["items"][0]
        await gx.call("GET", f"/api/v1/webhooks/{theirs_id}", 404)
        await gx.call("DELETE", f"/api/v1/webhooks/{theirs_id}", 404)
        await gx.call("GET", f"/api/v1/webhooks/{everyone['webhook']['id']}", 404)
        await gx.call("POST", "/api/v1/webhooks", 404, {"url": url, "tenant": "acme"})
        await gx.call("POST", "/api/v1/webhooks", 400, {"url": url})
        for bad in ("ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/x", "127.0.0.1/x"):
            await gx.call("POST", "/api/v1/webhooks", 400, {"url": bad, "tenant": "globex"})
        await gx.call("DELETE", f"/api/v1/webhooks/{mine_id}", 204)
        await gx.call("GET", f"/api/v1/webhooks/{mine_id}", 404)
    async with admin.with_token("acme-help") as helpdesk:
        await helpdesk.call("GET", "/api/v1/webhooks", 403)
    async with admin.with_token("root") as root:
        listed = await root.call("GET", "/api/v1/webhooks", 200)
    assert {h["id"] for h in listed["items"]} == {theirs_id, everyone["webhook"]["id"]}
