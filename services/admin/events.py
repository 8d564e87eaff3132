"""Logins and logouts as they happen, for server-sent events: one reader
of the binding's event streams (``keys.events``, one per group) fans each
entry out to every viewer whose operator sees its tenants.

A viewer's queue is bounded: one that falls ``queue_size`` events behind
is dropped (its stream ends; the browser reconnects).

On one Redis the reader blocks on all the streams in one XREAD. On a Redis
Cluster one command cannot span slots and each group has its own, so it
reads each stream without blocking, and waits ``_CLUSTER_POLL_SECONDS``
when none had anything new.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.admin import metrics
from services.admin.operators import Operator
from services.admin.streams import Entries, event_streams, last_ids
from services.kernel.logs import fields
from services.kernel.redis_conn import is_cluster
from services.kernel.tenants import TenantCache

log = logging.getLogger(__name__)

_BLOCK_MS = 1000
_CLUSTER_POLL_SECONDS = 0.2
_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Event:
    id: str
    kind: str  # "login" or "logout"
    data: dict[str, str]

    @property
    def tenants(self) -> set[str]:
        """The tenants it concerns: the device's and its users' (none empty)."""
        users = (self.data.get("old_user", ""), self.data.get("new_user", ""))
        tenants = {self.data.get("device_tenant", "")} | {u.split("/")[0] for u in users if u}
        return tenants - {""}

    def sse(self) -> bytes:
        return f"id: {self.id}\nevent: {self.kind}\ndata: {json.dumps(self.data)}\n\n".encode()


@dataclass(eq=False)  # each viewer is itself (hashed by identity)
class _Viewer:
    operator: Operator
    tenant: str | None
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)

    def wants(self, event: Event) -> bool:
        tenants = event.tenants
        if self.tenant is not None and self.tenant not in tenants:
            return False
        return any(self.operator.sees(t) for t in tenants)


class EventHub:
    def __init__(self, redis: Redis, tenants: TenantCache, queue_size: int) -> None:
        self._redis = redis
        self._tenants = tenants
        self._queue_size = queue_size
        self._viewers: set[_Viewer] = set()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, operator: Operator, tenant: str | None
    ) -> AsyncIterator[asyncio.Queue[Event | None]]:
        viewer = _Viewer(operator, tenant, asyncio.Queue(self._queue_size))
        self._viewers.add(viewer)
        metrics.EVENT_VIEWERS.inc()
        try:
            yield viewer.queue
        finally:
            self._viewers.discard(viewer)
            metrics.EVENT_VIEWERS.dec()

    def _publish(self, event: Event) -> None:
        for viewer in list(self._viewers):
            if not viewer.wants(event):
                continue
            if viewer.queue.qsize() >= self._queue_size - 1:
                # Too far behind: end its stream (None) and forget it.
                self._viewers.discard(viewer)
                viewer.queue.put_nowait(None)
            else:
                viewer.queue.put_nowait(event)

    async def _read(self, cursors: dict[str, str]) -> list[tuple[str, Entries]]:
        if not is_cluster(self._redis):
            return await self._redis.xread(cursors, block=_BLOCK_MS, count=500) or []
        replies: list[tuple[str, Entries]] = []
        for stream, cursor in cursors.items():
            replies += await self._redis.xread({stream: cursor}, count=500) or []
        if not replies:
            await asyncio.sleep(_CLUSTER_POLL_SECONDS)
        return replies

    async def run(self) -> None:
        """Read every group's stream from now on, until cancelled."""
        cursors: dict[str, str] = {}
        while True:
            try:
                new = [s for s in event_streams(self._tenants) if s not in cursors]
                if new:
                    cursors.update(await last_ids(self._redis, new))
                if not cursors:
                    await asyncio.sleep(_RETRY_SECONDS)
                    continue
                for stream, entries in await self._read(cursors):
                    for entry_id, entry in entries:
                        cursors[stream] = entry_id
                        self._publish(Event(entry_id, entry.get("type", "change"), entry))
            except (RedisError, OSError) as exc:
                log.warning("events_read_failed", extra=fields(error=str(exc)))
                await asyncio.sleep(_RETRY_SECONDS)
