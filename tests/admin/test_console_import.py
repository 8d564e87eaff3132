"""The console's directory import page in headless Chromium against the
real admin service importing into a real Redis: globex's admin loads a
file in the browser, previews the diff (nothing written), applies exactly
what was previewed (the user exists, acme is untouched); a refused part
shows the API's reason; a helpdesk has no Apply and is told the API's 403."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis.asyncio import Redis

from services.directory.state import read_stored
from tests.admin.support import acme_of, importing_admin, part
from tests.support.admin import AdminStack
from tests.support.browser import SCREENSHOTS, Browser, Run, browser, runner
from tests.support.redis_server import RedisServer

HAL = {
    "tenant": "globex",
    "extension": "3002",
    "name": "Hal Globex",
    "caller_id": "+442071234002",
    "hotdesk": True,
}


@pytest.fixture
async def admin(redis: Redis, redis_server: RedisServer) -> AsyncIterator[AdminStack]:
    """An admin service that takes tenant imports."""
    async with importing_admin(redis_server) as s:
        yield s


def _gus_renamed_and_hal() -> str:
    doc = part("globex")
    doc["users"][0]["name"] = "Gus Renamed"
    doc["users"].append(HAL)
    return yaml.safe_dump(doc)


async def _status_of_hal(admin: AdminStack, wanted: int) -> int:
    """The API's status for Hal once it is ``wanted`` or, at the latest, after
    a few seconds (the admin service's directory view follows an import's
    new version within moments)."""
    async with admin.with_token("root") as root:
        for _ in range(50):
            async with root.http.get("/api/v1/users/globex/3002") as r:
                if r.status == wanted:
                    break
            await asyncio.sleep(0.1)
    return r.status


def _apply_enabled(b: Browser) -> Any:
    return b.find("#import-apply").is_enabled()


def _globex_admin_imports(
    b: Browser, admin: AdminStack, redis: Redis, run: Run, file: Path
) -> None:
    b.sign_in("gx-admin", admin.passwords["gx-admin"])
    b.find('#nav a[href="#/import"]').click()
    assert b.find("#import-tenant").get_attribute("value") == "globex"
    assert not _apply_enabled(b)
    # Acme's part under globex's name: the API's reason, and still no Apply.
    b.set_value("#import-text", yaml.safe_dump(part("acme")))
    b.find("#import-preview").click()
    b.text_of("#error", "Refused (400)")
    b.text_of("#error", "declares that tenant (globex) and no other")
    assert not _apply_enabled(b)
    # The file, read by the browser, previewed: the diff names Gus and Hal.
    b.find("#import-file").send_keys(str(file))
    b.text_of("#notice", f"Loaded {file.name}")
    b.find("#import-preview").click()
    b.text_of("#import-summary", "Preview for globex: 1 to add, 1 to change, 0 to remove")
    rows = b.all("#import-changes tbody tr")
    assert [r.text.replace("\n", " ") for r in rows] == [
        "Would change user globex/3001 name Gus Globex -> Gus Renamed",
        "Would add user globex/3002",
    ]
    assert not b.all("#error")[0].is_displayed() and _apply_enabled(b)
    # Nothing written yet: not in Redis, not in the API.
    assert ("globex", "3002") not in run(read_stored(redis)).users
    assert run(_status_of_hal(admin, 404)) == 404
    b.driver.execute_script("window.scrollTo(0, 0)")
    b.shot(SCREENSHOTS / "import.png")
    # Another text than the one previewed cannot be applied.
    b.set_value("#import-text", file.read_text() + "\n# edited\n")
    assert not _apply_enabled(b)
    b.find("#import-preview").click()
    b.wait().until(lambda _: _apply_enabled(b))
    b.find("#import-apply").click()
    b.text_of("#import-summary", "Applied to globex: 1 added, 1 changed, 0 removed")
    b.text_of("#notice", "Applied to globex: directory version")
    assert not _apply_enabled(b)  # once; another Apply needs another preview
    assert run(_status_of_hal(admin, 200)) == 200
    b.find("#sign-out").click()
    b.find("#sign-in")


def _helpdesk_may_not(b: Browser, admin: AdminStack) -> None:
    b.sign_in("acme-help", admin.passwords["acme-help"])
    b.go("#/import")
    b.set_value("#import-text", yaml.safe_dump(part("acme")))
    assert b.all("#import-apply")[0].is_displayed() is False
    b.find("#import-preview").click()
    b.text_of("#error", "Not allowed (403): a helpdesk may not import")


async def test_a_tenant_admin_previews_then_applies_their_part(
    admin: AdminStack, redis: Redis, tmp_path: Path
) -> None:
    acme = await acme_of(redis)
    file = tmp_path / "globex.yaml"
    file.write_text(_gus_renamed_and_hal())
    run = runner(asyncio.get_running_loop())
    with browser(admin.url) as b:
        await asyncio.to_thread(_globex_admin_imports, b, admin, redis, run, file)
        await asyncio.to_thread(_helpdesk_may_not, b, admin)
        assert b.script_errors() == []
    assert await acme_of(redis) == acme
