"""The webhooks' feed: each event of the binding's streams becomes one
delivery per webhook that takes it (``Webhook.wants``), appended to
``keys.ADMIN_WEBHOOK_DELIVERIES`` (``webhook_delivery`` sends them).

The feed follows the streams from the positions it keeps in Redis
(``streams.unread``), so events that happen while no admin instance runs
are fed when one starts. A batch's deliveries and the stream's new
position are written by one script, and only while the position is still
the one the batch was read after: with several admin instances following
the same streams, each event is fed once.

The first feed on a Redis (no positions kept yet) starts at each stream's
end: webhooks are told what happens from then on, not the streams'
history. A group's stream first seen later (a new group) is read from its
first entry. A kept position that the stream's trimming has passed (an
admin service down for longer than the binding keeps events) is logged
and counted once per stream and start: those events are gone.
"""

import json
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.admin import metrics
from services.admin.events import Event
from services.admin.streams import START, Entries, event_streams, follow, last_ids, unread
from services.admin.webhooks import WebhookStore
from services.kernel import keys
from services.kernel.logs import fields
from services.kernel.tenants import TenantCache

log = logging.getLogger(__name__)

_BATCH = 500

# KEYS: the positions hash, the deliveries stream. ARGV: the stream, the
# position the entries were read after, the last entry's id, then
# (webhook id, event id, body) per delivery.
_FEED = """\
if (redis.call('HGET', KEYS[1], ARGV[1]) or '0-0') ~= ARGV[2] then
  return 0
end
for i = 4, #ARGV, 3 do
  redis.call('XADD', KEYS[2], '*', 'webhook', ARGV[i], 'event', ARGV[i + 1], 'body', ARGV[i + 2])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


def body_of(event: Event) -> str:
    """The JSON a webhook receives: the event's id and the binding event's
    fields (type, device, device_tenant, old_user, new_user, reason, actor,
    gen, ts_ms)."""
    return json.dumps({"id": event.id, **event.data}, separators=(",", ":"))


def _entry_id(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class WebhookFeed:
    def __init__(
        self, redis: Redis, tenants: TenantCache, store: WebhookStore, poll_seconds: float
    ) -> None:
        self._redis = redis
        self._tenants = tenants
        self._store = store
        self._poll_seconds = poll_seconds
        self._feed = redis.register_script(_FEED)
        self._checked: set[str] = set()  # streams whose kept position was checked
        self._positioned = False  # positions are kept (by this feed or an earlier one)

    async def start(self) -> None:
        """Keep the first positions now, if none are (so the service is
        not told it started before its webhooks hear of what follows)."""
        try:
            await self._first_start(event_streams(self._tenants))
        except (RedisError, OSError) as exc:
            log.warning("webhook_feed_failed", extra=fields(error=str(exc)))

    async def run(self) -> None:
        """Feed until cancelled."""
        await follow(self.catch_up, self._poll_seconds, "webhook_feed_failed")

    async def catch_up(self) -> bool:
        """Feed one batch of each stream's new entries; False: none."""
        streams = event_streams(self._tenants)
        await self._first_start(streams)
        busy = False
        positions = keys.ADMIN_WEBHOOK_CURSORS
        async for stream, position, entries in unread(self._redis, positions, streams, _BATCH):
            busy = True
            await self._check_gap(stream, position)
            await self._put(stream, position, entries)
        return busy

    async def _first_start(self, streams: list[str]) -> None:
        if self._positioned or not streams:
            return
        if await self._redis.exists(keys.ADMIN_WEBHOOK_CURSORS):
            self._positioned = True
            return
        ends = await last_ids(self._redis, streams)
        async with self._redis.pipeline(transaction=True) as pipe:
            for stream, end in ends.items():
                pipe.hsetnx(keys.ADMIN_WEBHOOK_CURSORS, stream, end)
            await pipe.execute()
        self._positioned = True
        log.info("webhook_feed_started", extra=fields(streams=len(streams)))

    async def _check_gap(self, stream: str, position: str) -> None:
        if stream in self._checked:
            return
        self._checked.add(stream)
        if position == START:
            return
        deleted = (await self._redis.xinfo_stream(stream)).get("max-deleted-entry-id", START)
        if _entry_id(deleted) > _entry_id(position):
            metrics.WEBHOOK_MISSED.inc()
            log.warning(
                "webhook_events_missed",
                extra=fields(stream=stream, fed_up_to=position, trimmed_up_to=deleted),
            )

    async def _put(self, stream: str, position: str, entries: Entries) -> None:
        hooks = await self._store.all()
        deliveries: list[str] = []
        for entry_id, data in entries:
            event = Event(entry_id, data.get("type", "change"), data)
            tenants, body = event.tenants, body_of(event)
            for hook in hooks:
                if hook.wants(tenants):
                    deliveries += (hook.id, entry_id, body)
        fed = await self._feed(
            keys=[keys.ADMIN_WEBHOOK_CURSORS, keys.ADMIN_WEBHOOK_DELIVERIES],
            args=[stream, position, entries[-1][0], *deliveries],
        )
        if fed:
            metrics.WEBHOOK_FED.inc(len(deliveries) // 3)
