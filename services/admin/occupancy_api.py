"""The occupancy report through the API: closed intervals (who sat at
which device from when to when), newest first, scoped to the operator's
tenants and filtered by tenant, user, device and time; as paged JSON or
as one CSV export."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from services.admin.models import OccupancyPage, OccupancyQuery, OccupancyRow
from services.admin.occupancy import Interval, newest_first
from services.admin.operators import Action, Operator
from services.admin.routes import Call, Route

# Intervals read per round trip, and at most per page (a page of rare
# matches ends early with a cursor to go on from).
_CHUNK = 200
_SCAN = 5000
CSV_COLUMNS = (
    "tenant",
    "extension",
    "device",
    "device_tenant",
    "from",
    "to",
    "seconds",
    "ended_by",
)


def _wanted(who: Operator, q: OccupancyQuery, i: Interval) -> bool:
    tenants = i.tenants
    return (
        any(who.sees(t) for t in tenants)
        and (q.tenant is None or q.tenant in tenants)
        and (q.user is None or i.user == q.user)
        and (q.device is None or i.device == q.device)
        and (q.since_unix_ms is None or i.to_ms > q.since_unix_ms)
    )


def _row(i: Interval) -> OccupancyRow:
    tenant, _, extension = i.user.partition("/")
    return OccupancyRow(
        tenant=tenant,
        extension=extension,
        device=i.device,
        device_tenant=i.device_tenant,
        from_unix_ms=i.from_ms,
        to_unix_ms=i.to_ms,
        ended_by=i.ended_by,
    )


async def _matches(call: Call, q: OccupancyQuery) -> AsyncIterator[tuple[str, OccupancyRow | None]]:
    """Every interval read, with its row if it is wanted."""
    async for member, interval in newest_first(
        call.context.redis, q.until_unix_ms, q.cursor, _CHUNK
    ):
        yield member, _row(interval) if _wanted(call.who, q, interval) else None


async def occupancy(call: Call) -> OccupancyPage:
    q = call.query_as(OccupancyQuery)
    items: list[OccupancyRow] = []
    scanned = 0
    async for member, row in _matches(call, q):
        scanned += 1
        if row is not None:
            items.append(row)
        if len(items) == q.limit or scanned == _SCAN:
            return OccupancyPage(items=items, next_cursor=member)
    return OccupancyPage(items=items, next_cursor=None)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _csv_lines(rows: list[tuple[str | int, ...]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


async def occupancy_csv(call: Call) -> web.StreamResponse:
    """Every wanted interval (the cursor and limit are not used), streamed."""
    q = call.query_as(OccupancyQuery).model_copy(update={"cursor": None})
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="occupancy.csv"',
        }
    )
    await response.prepare(call.request)
    batch: list[tuple[str | int, ...]] = [CSV_COLUMNS]
    async for _, row in _matches(call, q):
        if row is not None:
            batch.append(
                (
                    row.tenant,
                    row.extension,
                    row.device,
                    row.device_tenant,
                    _iso(row.from_unix_ms),
                    _iso(row.to_unix_ms),
                    (row.to_unix_ms - row.from_unix_ms) // 1000,
                    row.ended_by,
                )
            )
        if len(batch) >= _CHUNK:
            await response.write(_csv_lines(batch))
            batch = []
    await response.write(_csv_lines(batch))
    await response.write_eof()
    return response


ROUTES = [
    Route(
        "GET",
        "/occupancy",
        occupancy,
        "Who sat where, from when to when (closed intervals, newest first)",
        "occupancy",
        Action.READ,
        OccupancyPage,
        query=OccupancyQuery,
    ),
    Route(
        "GET",
        "/occupancy.csv",
        occupancy_csv,
        "The occupancy report as CSV (every interval the filters select)",
        "occupancy",
        Action.READ,
        query=OccupancyQuery,
        raw="text/csv",
    ),
]
