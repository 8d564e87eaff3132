"""The audit trail and the live stream of logins and logouts."""

import asyncio
import contextlib

from aiohttp import web

from services.admin.models import AuditPage, AuditQuery, EventsQuery
from services.admin.operators import Action
from services.admin.routes import EVENT_STREAM, Call, Route


async def list_audit(call: Call) -> AuditPage:
    q = call.query_as(AuditQuery)
    return await call.context.audit_log.page(call.who, q, call.context.directory.device_tenants)


async def stream_events(call: Call) -> web.StreamResponse:
    """Server-sent events: ``login`` and ``logout``, each with the binding
    stream's entry as JSON data, from the moment of connecting."""
    q = call.query_as(EventsQuery)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(call.request)
    keepalive = call.context.events_keepalive_seconds
    # A viewer that goes away ends its stream (ConnectionError on a write).
    with contextlib.suppress(ConnectionError):
        async with call.context.events.subscribe(call.who, q.tenant) as queue:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), keepalive)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if event is None:
                    break
                await response.write(event.sse())
        await response.write_eof()
    return response


ROUTES = [
    Route(
        "GET",
        "/audit",
        list_audit,
        "The audit trail, newest first",
        "audit",
        Action.READ,
        AuditPage,
        query=AuditQuery,
    ),
    Route(
        "GET",
        "/events",
        stream_events,
        "Logins and logouts as they happen (SSE)",
        "events",
        Action.READ,
        query=EventsQuery,
        raw=EVENT_STREAM,
    ),
]
