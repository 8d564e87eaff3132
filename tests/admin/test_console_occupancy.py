"""The console's occupancy page in headless Chromium against the real
admin service: sessions made through the binding service show as closed
intervals, the filters narrow them, and the "Download CSV" link, fetched
with the page's own cookie, carries the same filters and parses as CSV."""

import asyncio
import csv
import io
from typing import Any

from services.admin.occupancy_api import CSV_COLUMNS
from tests.admin.support import occupancy, some_sessions
from tests.support.admin import AdminStack
from tests.support.browser import SCREENSHOTS, Browser, Run, browser, runner


async def _intervals(admin: AdminStack, count: int) -> list[dict[str, Any]]:
    async with admin.with_token("root") as root:
        return await occupancy(root, count)


def _rows(b: Browser) -> list[str]:
    """The report's rows, read at once, each as its cells' text."""
    rows: list[str] = b.driver.execute_script(
        "return [...document.querySelectorAll('#occupancy-rows tr[data-device]')]"
        ".map((row) => [...row.cells].map((c) => c.textContent).join(' | '))"
    )
    return rows


def _the_report_and_its_csv(b: Browser, admin: AdminStack, run: Run) -> None:
    run(some_sessions(admin))
    intervals = run(_intervals(admin, 4))
    b.sign_in("root", admin.passwords["root"])
    b.find('#nav a[href="#/occupancy"]').click()
    b.wait().until(lambda _: len(_rows(b)) == 4)
    assert [row.split(" | ")[:2] for row in _rows(b)] == [
        [f"{i['tenant']}/{i['extension']}", i["device"]] for i in intervals
    ]
    assert _rows(b)[0].endswith("logout") and "takeover" in _rows(b)[2]
    b.shot(SCREENSHOTS / "occupancy.png")
    # One device's intervals; the CSV link follows the filter.
    b.find("#o-device").send_keys("hd3002")
    b.find("form.filters button[type=submit]").click()
    b.wait().until(lambda _: [r.split(" | ")[0] for r in _rows(b)] == ["acme/1003", "acme/1002"])
    link = b.find("#csv-link").get_attribute("href") or ""
    assert link.endswith("/api/v1/occupancy.csv?device=hd3002"), link
    status, kind, text = b.fetch(link)
    assert status == 200 and kind.startswith("text/csv"), (status, kind, text)
    got = list(csv.reader(io.StringIO(text)))
    assert tuple(got[0]) == CSV_COLUMNS
    assert [(r[1], r[2], r[7]) for r in got[1:]] == [
        ("1003", "hd3002", "logout"),
        ("1002", "hd3002", "takeover"),
    ]
    # Nothing started before 2001: no rows, and the link says so too.
    b.set_value("#o-until", "2001-01-01T00:00:00")
    b.find("form.filters button[type=submit]").click()
    b.text_of("#occupancy-rows", "No intervals match.")
    link = b.find("#csv-link").get_attribute("href") or ""
    assert "device=hd3002&until_unix_ms=97" in link, link
    _, _, text = b.fetch(link)
    assert list(csv.reader(io.StringIO(text))) == [list(CSV_COLUMNS)]


async def test_the_occupancy_report_filters_and_exports(admin: AdminStack) -> None:
    run = runner(asyncio.get_running_loop())
    with browser(admin.url) as b:
        await asyncio.to_thread(_the_report_and_its_csv, b, admin, run)
        assert b.script_errors() == []
