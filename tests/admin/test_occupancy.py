"""The occupancy report: logins and logouts made through the binding
service become closed intervals, scoped to the operator's tenants,
filtered, paged, and exported as CSV that the csv module reads back."""

import csv
import io
from urllib.parse import quote

from redis.asyncio import Redis

from services.admin.occupancy import Interval
from services.admin.occupancy_api import CSV_COLUMNS
from services.kernel import keys
from tests.admin.support import occupancy, some_sessions
from tests.support.admin import AdminStack


async def test_logins_and_logouts_become_closed_intervals(admin: AdminStack) -> None:
    await some_sessions(admin)
    async with admin.with_token("acme-admin") as acme:
        items = await occupancy(acme, 3)
    assert [(i["extension"], i["device"], i["ended_by"]) for i in items] == [
        ("1003", "hd3002", "logout"),
        ("1002", "hd3002", "takeover"),
        ("1001", "hd3001", "logout"),
    ]
    for i in items:
        assert i["tenant"] == i["device_tenant"] == "acme"
        assert 0 < i["from_unix_ms"] <= i["to_unix_ms"]
    # The takeover ended Bob's interval when Carol's began.
    assert items[1]["to_unix_ms"] == items[0]["from_unix_ms"]


def test_intervals_of_one_millisecond_keep_the_order_of_their_logins() -> None:
    """A takeover in the millisecond of the login it ends: the report
    (members read newest first by lex order) still puts the taker first."""
    bob = Interval("acme/1002", "hd3002", "acme", 5, 5, "takeover", "5-9")
    carol = Interval("acme/1003", "hd3002", "acme", 5, 7, "logout", "5-10")
    older = Interval("acme/1001", "hd3001", "acme", 4, 5, "logout", "12-0")
    members = [bob.member(), carol.member(), older.member()]
    newest_first = sorted(members, reverse=True)
    assert [Interval.of_member(m) for m in newest_first] == [carol, bob, older]
    # A member written before the entry id was part of it still reads.
    legacy = '0000000000000004|{"d":"hd3001","dt":"acme","f":4,"r":"logout","t":5,"u":"acme/1001"}'
    assert Interval.of_member(legacy) == Interval("acme/1001", "hd3001", "acme", 4, 5, "logout")


async def test_scoped_filtered_and_paged(admin: AdminStack) -> None:
    await some_sessions(admin)
    async with admin.with_token("root") as root:
        everything = await occupancy(root, 4)
        assert {i["tenant"] for i in everything} == {"acme", "globex"}
        by_user = await root.call("GET", "/api/v1/occupancy?user=acme/1002", 200)
        by_device = await root.call("GET", "/api/v1/occupancy?device=hd3002&tenant=acme", 200)
        first = everything[-1]  # the oldest: Alice at hd3001
        before = await root.call(
            "GET", f"/api/v1/occupancy?until_unix_ms={first['from_unix_ms'] + 1}", 200
        )
        after = await root.call(
            "GET", f"/api/v1/occupancy?since_unix_ms={first['to_unix_ms']}", 200
        )
        pages, cursor = [], ""
        for _ in range(10):
            page = await root.call("GET", f"/api/v1/occupancy?limit=1{cursor}", 200)
            pages += page["items"]
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={quote(page['next_cursor'])}"
    assert [i["extension"] for i in by_user["items"]] == ["1002"]
    assert [i["extension"] for i in by_device["items"]] == ["1003", "1002"]
    assert first in before["items"] and first not in after["items"]
    assert pages == everything
    async with admin.with_token("gx-admin") as gx:
        mine = await gx.call("GET", "/api/v1/occupancy", 200)
        theirs = await gx.call("GET", "/api/v1/occupancy?tenant=acme", 200)
    assert [(i["tenant"], i["extension"], i["device"]) for i in mine["items"]] == [
        ("globex", "3001", "gx4001")
    ]
    assert theirs["items"] == []


async def test_the_csv_export_parses_and_matches_the_report(admin: AdminStack) -> None:
    await some_sessions(admin)
    async with admin.with_token("acme-admin") as acme:
        items = await occupancy(acme, 3)
        async with acme.http.get("/api/v1/occupancy.csv?device=hd3002") as r:
            assert r.status == 200
            assert r.content_type == "text/csv"
            text = await r.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    wanted = [i for i in items if i["device"] == "hd3002"]
    assert [(r["tenant"], r["extension"], r["device"], r["ended_by"]) for r in rows] == [
        (i["tenant"], i["extension"], i["device"], i["ended_by"]) for i in wanted
    ]
    assert rows[0]["from"].endswith("+00:00") and int(rows[0]["seconds"]) >= 0


async def test_the_reader_resumes_where_it_stopped(admin: AdminStack, redis: Redis) -> None:
    """Its position is kept in Redis: a second pass over the same entries
    (another instance, a restart) adds nothing twice."""
    await some_sessions(admin)
    async with admin.with_token("root") as root:
        await occupancy(root, 4)
    before = await redis.zcard(keys.ADMIN_OCC_INTERVALS)
    await redis.delete(keys.ADMIN_OCC_CURSORS, keys.ADMIN_OCC_OPEN)
    # Read every stream again from its start (the service's own reader too).
    for _ in range(100):
        if not await admin.admin.occupancy.catch_up():
            break
    groups = {t.group for t in admin.admin.tenants.by_id.values()}
    assert await redis.hlen(keys.ADMIN_OCC_CURSORS) == len(groups)
    assert await redis.zcard(keys.ADMIN_OCC_INTERVALS) == before == 4


async def test_a_move_and_an_operators_logout_end_intervals(admin: AdminStack) -> None:
    await admin.stack.login("hd3001", "1001")
    await admin.stack.login("hd3003", "1001")  # Alice moves: hd3001's session ends
    async with admin.with_token("acme-admin") as acme:
        await acme.call("POST", "/api/v1/devices/hd3003/logout", 200)
        items = await occupancy(acme, 2)
    assert [(i["device"], i["ended_by"]) for i in items] == [
        ("hd3003", "operator"),
        ("hd3001", "moved"),
    ]
