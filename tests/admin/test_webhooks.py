"""Signed webhooks: a real HTTP receiver on 127.0.0.1 gets each login and
logout of its tenant, signed with the secret shown at registration; other
tenants' events never reach it; refusals are retried and the outcome is
recorded on the webhook."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hotdesk.v1 import binding_pb2 as bpb
from redis.asyncio import Redis

from services.admin import metrics
from services.admin.service import AdminService
from services.admin.webhook_feed import WebhookFeed
from services.admin.webhooks import Webhook, WebhookStore
from services.kernel import keys
from services.kernel.secretbox import SecretBox
from tests.admin.support import settled
from tests.support.admin import AdminStack, admin_instance, admin_stack
from tests.support.ports import free_port
from tests.support.provision import Stack, provision_stack
from tests.support.redis_server import RedisServer
from tests.support.secrets import webhook_key_file
from tests.support.service_process import ServiceProcess
from tests.support.webhook_receiver import WAIT_SECONDS, Receiver, receiver


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
        await acme.next(2)
        first, second = acme.in_order()
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


async def _delivered(admin: AdminService, webhook_id: str, count: int) -> Webhook:
    """The webhook once ``count`` events were delivered to it and nothing
    waits to be delivered (bounded wait)."""
    for _ in range(WAIT_SECONDS * 10):
        hook = await admin.webhooks.get(webhook_id)
        assert hook is not None
        waiting = await admin.redis.xlen(keys.ADMIN_WEBHOOK_DELIVERIES)
        if hook.delivered >= count and not waiting:
            return hook
        await asyncio.sleep(0.1)
    raise AssertionError(f"webhook {webhook_id}: not {count} delivered: {hook}, {waiting} waiting")


async def test_events_while_no_admin_instance_runs_are_delivered_when_one_starts(
    redis: Redis, redis_server: RedisServer
) -> None:
    async with provision_stack(redis_server.url) as stack, receiver("/hook") as hook:
        async with admin_instance(stack, redis_server.url) as first:
            secret, created = await first.webhooks.create(hook.url, "acme", "root")
            await stack.login("hd3001", "1001")
            await _delivered(first, created.id, 1)
        # No admin instance runs now.
        await stack.login("hd3002", "1002")
        await stack.logout("hd3001")
        async with admin_instance(stack, redis_server.url) as second:
            await hook.next(3)
            await _delivered(second, created.id, 3)

    events = [(d.event["type"], d.event["device"]) for d in hook.in_order()]
    assert events == [("login", "hd3001"), ("login", "hd3002"), ("logout", "hd3001")]
    assert all(d.verified_by(secret) for d in hook.got)


def _admin_process(stack: Stack, redis_url: str, log_file: Path) -> ServiceProcess:
    """The admin service as a process of its own over ``stack``, whose
    webhook POSTs wait a minute for an answer."""
    return ServiceProcess(
        "admin",
        redis_url,
        log_file,
        ("grpc", "http"),
        {
            "HOTDESK_ADMIN_BINDING_ADDRESS": f"127.0.0.1:{stack.binding.grpc_port}",
            "HOTDESK_ADMIN_AUTH_ADDRESS": f"127.0.0.1:{stack.auth.grpc_port}",
            "HOTDESK_ADMIN_PROVISION_ADDRESS": f"127.0.0.1:{stack.provision.grpc_port}",
            "HOTDESK_ADMIN_WEBHOOK_KEY_FILE": str(webhook_key_file()),
            "HOTDESK_ADMIN_WEBHOOK_TIMEOUT_SECONDS": "60",
        },
    )


def _made_once_more(hook: Receiver, secret: str, view: Webhook) -> None:
    """The stalled POST and the one made again: the same event, signed."""
    stalled, made = hook.got
    assert stalled.body == made.body and made.event["device"] == "hd3001"
    assert stalled.headers["X-Hotdesk-Event"] == made.headers["X-Hotdesk-Event"]
    assert made.verified_by(secret)
    assert (view.delivered, view.failed, view.last_status) == (1, 0, 204)


async def test_a_delivery_whose_holder_is_killed_is_taken_over_and_made_once_more(
    redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    taken_over = metrics.WEBHOOK_TAKEN_OVER._value.get()
    async with (
        provision_stack(redis_server.url) as stack,
        receiver("/hook", stall_first=1) as hook,
    ):
        # The first instance's POST gets no answer; it is killed while it waits.
        first = _admin_process(stack, redis_server.url, tmp_path / "admin.log")
        await asyncio.to_thread(first.start)
        try:
            secret, created = await WebhookStore(
                redis, SecretBox.from_file(webhook_key_file(), "admin")
            ).create(hook.url, "", "root")
            await stack.login("hd3001", "1001")
            await hook.next(1)
        finally:
            await asyncio.to_thread(first.kill)
        # The next one finds the delivery silent (for 2 x (1 + 0.2) + 1 s).
        async with admin_instance(
            stack,
            redis_server.url,
            webhook_timeout_seconds=1,
            webhook_backoff_max_seconds=0.2,
        ) as second:
            await hook.next(2)
            view = await _delivered(second, created.id, 1)

    _made_once_more(hook, secret, view)
    assert metrics.WEBHOOK_TAKEN_OVER._value.get() - taken_over == 1


async def test_a_stopping_instance_hands_over_what_it_holds(
    redis: Redis, redis_server: RedisServer
) -> None:
    async with (
        provision_stack(redis_server.url) as stack,
        receiver("/hook", stall_first=1) as hook,
    ):
        async with admin_instance(stack, redis_server.url, webhook_timeout_seconds=60) as first:
            secret, created = await first.webhooks.create(hook.url, "", "root")
            await stack.login("hd3001", "1001")
            await hook.next(1)
        # Its delivery would be silent only after 2 x (5 + 60) + 1 s: it was
        # handed over when the first stopped, and goes out well before.
        async with admin_instance(stack, redis_server.url) as second:
            await hook.next(2)
            view = await _delivered(second, created.id, 1)

    _made_once_more(hook, secret, view)


async def test_two_feeds_that_read_the_same_events_feed_them_once(
    redis: Redis, redis_server: RedisServer
) -> None:
    """Two admin instances' feeds, both reading the same new entries before
    either writes: one batch goes in, the other is refused."""
    fed = metrics.WEBHOOK_FED._value.get()
    async with (
        provision_stack(redis_server.url) as stack,
        receiver("/hook") as hook,
        # Its own feed looks once at its start, then not for an hour.
        admin_instance(stack, redis_server.url, webhook_poll_seconds=3600) as admin,
    ):
        _, created = await admin.webhooks.create(hook.url, "acme", "root")
        for ext in ("1001", "1002") * 3:  # a login, then five takeovers
            await stack.login("hd3001", ext)
        feeds = [WebhookFeed(admin.redis, admin.tenants, admin.webhooks, 3600) for _ in "ab"]
        assert await asyncio.gather(*(f.catch_up() for f in feeds)) == [True, True]
        await hook.next(6)
        await _delivered(admin, created.id, 6)

    assert len({d.event["id"] for d in hook.got}) == 6
    assert len(hook.got) == 6
    assert metrics.WEBHOOK_FED._value.get() - fed == 6
