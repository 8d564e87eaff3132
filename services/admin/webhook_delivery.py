"""Delivering logins and logouts to webhooks: every event of the binding's
streams (``EventHub``) is POSTed as JSON to each webhook whose tenant it
concerns (the device's tenant or a user's), signed (``webhooks.signature``),
retried with bounded backoff, and its outcome recorded on the webhook.

Several admin instances read the same events: a claim key per event and
webhook makes one of them deliver it. Redirects are not followed (a 3xx
counts as a refusal).
"""

import asyncio
import json
import logging
from dataclasses import dataclass

import aiohttp
from redis.exceptions import RedisError

from services.admin import metrics
from services.admin.events import Event
from services.admin.webhooks import Webhook, WebhookStore, signature
from services.kernel.clock import Clock, now_ms
from services.kernel.logs import fields

log = logging.getLogger(__name__)

# How long an event's claim is kept: longer than all of its attempts.
_CLAIM_SECONDS = 3600
_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Retry:
    attempts: int
    backoff_seconds: float
    backoff_max_seconds: float
    timeout_seconds: float

    def wait(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1`` (``attempt`` from 0)."""
        return float(min(self.backoff_seconds * 2**attempt, self.backoff_max_seconds))


def body_of(event: Event) -> bytes:
    """The JSON a webhook receives: the event's id and the binding event's
    fields (type, device, device_tenant, old_user, new_user, reason, actor,
    gen, ts_ms)."""
    return json.dumps({"id": event.id, **event.data}, separators=(",", ":")).encode()


class WebhookDispatcher:
    def __init__(
        self,
        store: WebhookStore,
        retry: Retry,
        queue_size: int,
        in_flight: int,
        clock: Clock = now_ms,
    ) -> None:
        self._store = store
        self._retry = retry
        self._queue: asyncio.Queue[Event] = asyncio.Queue(queue_size)
        self._in_flight = asyncio.Semaphore(in_flight)
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def offer(self, event: Event) -> None:
        """An ``EventHub`` sink: never blocks the hub."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            metrics.WEBHOOK_DROPPED.inc()

    async def run(self) -> None:
        """Deliver until cancelled."""
        timeout = aiohttp.ClientTimeout(total=self._retry.timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            try:
                while True:
                    event = await self._queue.get()
                    hooks = await self._webhooks_of(event)
                    for hook in hooks:
                        await self._in_flight.acquire()
                        task = asyncio.create_task(self._deliver(http, hook, event))
                        self._tasks.add(task)
                        task.add_done_callback(self._done)
            finally:
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _webhooks_of(self, event: Event) -> list[Webhook]:
        """The webhooks that take the event (waiting while Redis is down)."""
        tenants = event.tenants - {""}
        while True:
            try:
                return [hook for hook in await self._store.all() if hook.wants(tenants)]
            except (RedisError, OSError) as exc:
                log.warning("webhooks_read_failed", extra=fields(error=str(exc)))
                await asyncio.sleep(_RETRY_SECONDS)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight.release()
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("webhook_delivery_failed", extra=fields(error=repr(exc)))

    async def _post(
        self, http: aiohttp.ClientSession, hook: Webhook, secret: str, event: Event, body: bytes
    ) -> tuple[int, str]:
        """One attempt: the HTTP status (0: no answer) and what went wrong."""
        timestamp = str(self._clock() // 1000)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hotdesk-edge-webhooks",
            "X-Hotdesk-Webhook": hook.id,
            "X-Hotdesk-Event": event.id,
            "X-Hotdesk-Timestamp": timestamp,
            "X-Hotdesk-Signature": signature(secret, timestamp, body),
        }
        try:
            async with http.post(hook.url, data=body, headers=headers, allow_redirects=False) as r:
                return r.status, "" if 200 <= r.status < 300 else f"answered {r.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return 0, f"{type(exc).__name__}: {exc}"[:200]

    async def _deliver(self, http: aiohttp.ClientSession, hook: Webhook, event: Event) -> None:
        if not await self._store.claim(hook.id, event.id, _CLAIM_SECONDS):
            return  # another admin instance delivers it
        secret = await self._store.secret(hook.id)
        if secret is None:
            return  # removed meanwhile
        body = body_of(event)
        for attempt in range(self._retry.attempts):
            status, error = await self._post(http, hook, secret, event, body)
            if not error:
                metrics.WEBHOOK_ATTEMPTS.labels("delivered").inc()
                await self._store.record(hook.id, event.id, status, "", outcome="delivered")
                return
            metrics.WEBHOOK_ATTEMPTS.labels("refused" if status else "unreachable").inc()
            last = attempt + 1 == self._retry.attempts
            await self._store.record(
                hook.id, event.id, status, error, outcome="failed" if last else None
            )
            if last:
                metrics.WEBHOOK_FAILURES.inc()
                log.warning(
                    "webhook_gave_up",
                    extra=fields(webhook=hook.id, event=event.id, status=status, error=error),
                )
                return
            await asyncio.sleep(self._retry.wait(attempt))
