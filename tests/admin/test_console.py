"""The operator console in headless Chromium against the real admin
service (over binding, auth and provision on a real Redis): what each
operator sees, live updates from the binding stream, the actions, and the
screenshots of the main pages: in .run/screenshots/ on every run (not
tracked), or where HOTDESK_SCREENSHOTS_DIR says (``docs/screenshots`` to
refresh the README's copies)."""

import asyncio
from typing import Any

from selenium.webdriver.common.keys import Keys

from tests.support.admin import AdminStack
from tests.support.browser import SCREENSHOTS, Browser, Run, browser, runner


async def _saved_keys(admin: AdminStack) -> Any:
    async with admin.with_token("root") as script:
        profile = await script.call("GET", "/api/v1/users/acme/1002/profiles/yealink/T46U", 200)
    return profile["keys"]


def _board_devices(b: Browser) -> list[str]:
    """The board's devices, read at once (a live update may replace rows)."""
    b.find("#board-rows tr[data-device]")
    devices: list[str] = b.driver.execute_script(
        "return [...document.querySelectorAll('#board-rows tr[data-device]')]"
        ".map((row) => row.dataset.device)"
    )
    return devices


def _globex_admin_sees_only_globex(b: Browser, password: str) -> None:
    b.open("#/signin")
    b.find("#name").send_keys("gx-admin")
    b.shot(SCREENSHOTS / "sign-in.png")
    b.find("#password").send_keys(password, Keys.ENTER)  # the keyboard signs in
    b.text_of("#whoami", "gx-admin")
    assert _board_devices(b) == ["gx4001"]
    # Another tenant's desk is not there for them: the API's 404, on the page.
    b.go("#/device/hd3001")
    b.text_of("#error", "Not found (404): no device hd3001")
    b.find("#sign-out").click()
    b.find("#sign-in")


def _helpdesk_is_refused_a_pin_reset(b: Browser, password: str) -> None:
    b.sign_in("acme-help", password)
    b.go("#/user/acme/1001")
    b.find("#new-pin").send_keys("4812", Keys.ENTER)
    b.text_of("#error", "Not allowed (403): a helpdesk may not set_pin")
    # The session ends behind the page's back: the next request's 401 asks
    # for the password again.
    b.driver.delete_all_cookies()
    b.find('#nav a[href="#/audit"]').click()
    b.find("#sign-in")
    b.text_of("#error", "Not signed in (401)")


async def test_each_operator_sees_only_what_their_role_and_tenants_allow(admin: AdminStack) -> None:
    with browser(admin.url) as b:
        await asyncio.to_thread(_globex_admin_sees_only_globex, b, admin.passwords["gx-admin"])
        await asyncio.to_thread(_helpdesk_is_refused_a_pin_reset, b, admin.passwords["acme-help"])
        assert b.script_errors() == []


def _platform_admin_works_the_console(b: Browser, admin: AdminStack, run: Run) -> None:
    b.sign_in("root", admin.passwords["root"])
    assert _board_devices(b) == ["gx4001", "hd3001", "hd3002", "hd3003"]
    b.text_of("#live", "Live")
    # A login from elsewhere (the binding's gRPC) shows without a reload.
    run(admin.stack.login("hd3002", "1002"))
    b.text_of('tr[data-device="hd3002"] .who', "1002 Bob Example")
    run(admin.stack.login("gx4001", "3001", tenant="globex"))
    b.text_of('tr[data-device="gx4001"] .who', "3001 Gus Globex")
    b.shot(SCREENSHOTS / "board.png")
    # Paging with the API's cursor, three rows a page.
    b.go("#/board?limit=3")
    b.wait().until(lambda _: _board_devices(b) == ["gx4001", "hd3001", "hd3002"])
    b.find("#next-page").click()
    b.wait().until(lambda _: _board_devices(b) == ["hd3003"])
    assert not b.find("#next-page").is_enabled()
    b.find("#previous-page").click()
    b.wait().until(lambda _: _board_devices(b) == ["gx4001", "hd3001", "hd3002"])
    # Filters: by user.
    b.find("#f-user").send_keys("acme/1002", Keys.ENTER)
    b.wait().until(lambda _: _board_devices(b) == ["hd3002"])
    # The device: provisioning and a resync.
    b.go("#/device/hd3002")
    b.text_of("#provisioning", "pending")
    b.find("#resync").click()
    b.text_of("#notice", "Resync: the check-sync push was")
    b.shot(SCREENSHOTS / "device.png")
    # Every phone's provisioning, a Resync from the list.
    b.go("#/phones")
    b.text_of('#phone-rows tr[data-device="hd3002"] td.state', "pending")
    b.find('#phone-rows tr[data-device="hd3002"] button[data-action="resync"]').click()
    b.text_of("#notice", "Resync of hd3002: the check-sync push was")
    b.shot(SCREENSHOTS / "phones.png")
    # A login on someone's behalf at a free desk, then an unlock.
    b.go("#/device/hd3001")
    b.find("#login-extension").send_keys("1001", Keys.ENTER)
    b.text_of("#notice", "Login: logged in")
    b.text_of("dd.who", "1001 Alice Example")
    b.go("#/user/acme/1001")
    b.find("#unlock-device").send_keys("hd3001", Keys.ENTER)
    b.text_of("#notice", "Unlocked: 0 lock(s) cleared")
    # A PIN the policy refuses: the API's reason on the page.
    b.go("#/user/acme/1002")
    b.find("#new-pin").send_keys("1", Keys.ENTER)
    b.text_of("#error", "Refused (400)")
    b.shot(SCREENSHOTS / "user.png")
    # The profile editor: two keys, saved.
    b.go("#/profile/acme/1002/yealink/T46U")
    b.text_of("#profile-status", "No profile")
    for value, label in (("1001", "Alice"), ("+4930123459999", "Reception")):
        b.find("#add-key").click()
        row = b.all("#keys tr.key")[-1]
        inputs = row.find_elements("css selector", "input")
        inputs[0].send_keys(value)
        inputs[1].send_keys(label)
    b.all("#keys tr.key select")[-1].send_keys("speed")
    b.find("#profile-form button[type=submit]").click()
    b.text_of("#profile-status", "Saved")
    b.shot(SCREENSHOTS / "profile.png")
    assert run(_saved_keys(admin)) == [
        {"kind": "blf", "value": "1001", "label": "Alice"},
        {"kind": "speed_dial", "value": "+4930123459999", "label": "Reception"},
    ]
    # The audit trail names the operator.
    b.go("#/audit")
    b.find("#a-event").send_keys("admin_profile_saved", Keys.ENTER)
    b.text_of("#audit-rows", "service:admin/root")
    b.find("#a-event").clear()
    b.find("form.filters button[type=submit]").click()
    b.text_of("#audit-rows", "admin_resync")
    b.shot(SCREENSHOTS / "audit.png")
    assert b.script_errors() == []


async def test_the_platform_admin_works_the_console(admin: AdminStack) -> None:
    run = runner(asyncio.get_running_loop())
    with browser(admin.url) as b:
        await asyncio.to_thread(_platform_admin_works_the_console, b, admin, run)
