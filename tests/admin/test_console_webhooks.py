"""The console's webhooks page in headless Chromium against the real admin
service: globex's admin registers a webhook to a real receiver on
127.0.0.1 and is shown its secret once (the deliveries are signed with
exactly that secret); the list shows each webhook's last delivery, a
delivered one and one to an address nobody answers; delete asks first."""

import asyncio
from typing import Any

from tests.admin.support import settled
from tests.support.admin import AdminStack
from tests.support.browser import SCREENSHOTS, Browser, Run, browser, runner
from tests.support.ports import free_port
from tests.support.webhook_receiver import Delivery, receiver


async def _listed(admin: AdminStack) -> list[str]:
    async with admin.signed_in("gx-admin") as gx:
        hooks = await gx.call("GET", "/api/v1/webhooks", 200)
    return [h["url"] for h in hooks["items"]]


def _register(b: Browser, url: str) -> tuple[str, str]:
    """Registers ``url`` for globex: its id and the secret shown."""
    b.find("#w-url").send_keys(url)
    b.find("#webhook-form button[type=submit]").click()
    b.text_of("#secret-panel", "It is shown this once and never again")
    secret = b.find("#webhook-secret").get_attribute("value") or ""
    webhook_id: str = b.wait().until(
        lambda _: b.driver.execute_script(
            "return [...document.querySelectorAll('#webhook-rows tr[data-webhook]')]"
            ".find((row) => row.querySelector('td.url').textContent === arguments[0])"
            "?.dataset.webhook",
            url,
        )
    )
    assert len(secret) >= 32, secret
    return webhook_id, secret


def _delivery(b: Browser, webhook_id: str) -> str:
    return b.find(f'tr[data-webhook="{webhook_id}"] td.delivery').text


def _webhooks_page(b: Browser, admin: AdminStack, run: Run, hook_url: str, got: Any) -> None:
    b.sign_in("gx-admin", admin.passwords["gx-admin"])
    b.find('#nav a[href="#/webhooks"]').click()
    b.text_of("#webhook-rows", "No webhooks.")
    assert b.find("#w-tenant").get_attribute("value") == "globex"
    nobody = f"http://127.0.0.1:{free_port()}/nobody"
    dead_id, _ = _register(b, nobody)
    hook_id, secret = _register(b, hook_url)
    assert b.find("#webhook-secret").get_attribute("value") == secret
    assert _delivery(b, hook_id) == "no delivery yet"
    # A login at globex's desk: signed with the secret the page showed.
    run(admin.stack.login("gx4001", "3001", tenant="globex"))
    (delivery,) = run(got(1))
    assert isinstance(delivery, Delivery) and delivery.verified_by(secret)
    assert (delivery.event["type"], delivery.event["new_user"]) == ("login", "globex/3001")
    run(settled(admin, hook_id, "delivered"))
    run(settled(admin, dead_id, "failed"))
    b.find("#webhooks-refresh").click()
    b.wait().until(lambda _: _delivery(b, hook_id).startswith("delivered (204)"))
    b.wait().until(lambda _: _delivery(b, dead_id).startswith("failed: no answer"))
    b.shot(SCREENSHOTS / "webhooks.png")
    # Shown once: back on the page, no secret anywhere.
    b.go("#/board")
    b.find("#board")
    b.go("#/webhooks")
    b.text_of("#webhook-rows", hook_url)
    assert b.all("#secret-panel") == [] and secret not in b.driver.page_source
    # Delete asks first; Cancel keeps it, Confirm deletes it.
    row = f'tr[data-webhook="{dead_id}"]'
    b.find(f'{row} button[data-action="delete"]').click()
    b.find(f'{row} button[data-action="cancel"]').click()
    b.find(f'{row} button[data-action="delete"]').click()
    b.find(f'{row} button[data-action="confirm-delete"]').click()
    b.text_of("#notice", f"Webhook to {nobody} deleted")
    b.wait().until(lambda _: not b.all(row))
    assert run(_listed(admin)) == [hook_url]
    b.find("#sign-out").click()
    b.find("#sign-in")


def _every_tenant_is_a_platform_admins(b: Browser, admin: AdminStack, hook_url: str) -> None:
    b.sign_in("root", admin.passwords["root"])
    b.go("#/webhooks")
    b.text_of("#webhook-rows", hook_url)  # globex's, seen by a platform admin
    url = f"http://127.0.0.1:{free_port()}/every"
    webhook_id, _ = _register(b, url)  # the tenant left empty
    b.text_of(f'tr[data-webhook="{webhook_id}"]', "every tenant")
    b.find("#sign-out").click()
    b.sign_in("acme-help", admin.passwords["acme-help"])
    b.go("#/webhooks")
    b.text_of("#webhooks-not-yours", "a tenant admin's or a platform admin's")


async def test_register_see_the_secret_once_deliveries_and_delete(admin: AdminStack) -> None:
    run = runner(asyncio.get_running_loop())
    async with receiver("/hook") as r:
        with browser(admin.url) as b:
            await asyncio.to_thread(_webhooks_page, b, admin, run, r.url, r.next)
            await asyncio.to_thread(_every_tenant_is_a_platform_admins, b, admin, r.url)
            assert b.script_errors() == []
