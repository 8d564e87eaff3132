"""Delivering logins and logouts to webhooks: each delivery the feed wrote
(``webhook_feed``) is POSTed as JSON to its webhook, signed
(``webhooks.signature``), retried with bounded backoff, its outcome
recorded on the webhook, and then removed.

The deliveries are a Redis stream read through one consumer group by every
admin instance, so each delivery goes to one of them. A delivery stays
pending in the group until it is settled; its holder marks it again before
each attempt. One that nobody marked for ``Retry.silence_seconds`` (its
holder died, or lost Redis) is taken over by whichever instance looks
next, and sent again from the first attempt. So a delivery is made at
least once: a holder that dies after the receiver took the POST, before
removing it, leaves it to be sent again with the same ``X-Hotdesk-Event``
(receivers deduplicate by it). Redirects are not followed (a 3xx counts
as a refusal).
"""

import asyncio
import logging
import os
import secrets
import socket
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from services.admin import metrics
from services.admin.webhooks import Webhook, WebhookStore, signature
from services.kernel import keys
from services.kernel.clock import Clock, now_ms
from services.kernel.logs import fields

log = logging.getLogger(__name__)

GROUP = "deliver"
_BLOCK_MS = 1000
_RETRY_SECONDS = 1.0
# A consumer of the group with nothing pending, silent this long, is
# forgotten (an instance that ended; its deliveries were taken over).
_FORGET_CONSUMER_MS = 3_600_000

Fields = dict[str, str]


@dataclass(frozen=True)
class Retry:
    attempts: int
    backoff_seconds: float
    backoff_max_seconds: float
    timeout_seconds: float

    def wait(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1`` (``attempt`` from 0)."""
        return float(min(self.backoff_seconds * 2**attempt, self.backoff_max_seconds))

    @property
    def silence_seconds(self) -> float:
        """How long a live holder can go without marking its delivery (one
        attempt and the longest wait), doubled, plus a second."""
        return 2 * (self.timeout_seconds + self.backoff_max_seconds) + 1


@dataclass(frozen=True)
class Delivery:
    id: str  # the entry in the deliveries stream
    webhook: str
    event: str
    body: bytes

    @classmethod
    def of(cls, entry_id: str, f: Fields) -> "Delivery":
        return cls(entry_id, f["webhook"], f["event"], f["body"].encode())


class WebhookDispatcher:
    def __init__(
        self,
        redis: Redis,
        store: WebhookStore,
        retry: Retry,
        in_flight: int,
        clock: Clock = now_ms,
    ) -> None:
        self._redis = redis
        self._store = store
        self._retry = retry
        self._in_flight = in_flight
        self._clock = clock
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._silence_ms = int(retry.silence_seconds * 1000)
        self._tasks: dict[asyncio.Task[None], Delivery] = {}

    async def run(self) -> None:
        """Deliver until cancelled."""
        timeout = aiohttp.ClientTimeout(total=self._retry.timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            try:
                await self._loop(http)
            finally:
                held = list(self._tasks.values())
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await self._release(held)

    async def _loop(self, http: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        look_again = 0.0  # when to look for deliveries whose holder went silent
        grouped = False
        while True:
            if len(self._tasks) >= self._in_flight:
                await asyncio.wait(list(self._tasks), return_when=asyncio.FIRST_COMPLETED)
                continue
            free = self._in_flight - len(self._tasks)
            try:
                if not grouped:
                    await self._create_group()
                    grouped = True
                taken: list[Delivery] = []
                if loop.time() >= look_again:
                    taken = await self._take_over(free)
                    look_again = loop.time() + self._retry.silence_seconds / 4
                if not taken:
                    taken = await self._read(free)
            except (RedisError, OSError) as exc:
                log.warning("webhook_deliveries_read_failed", extra=fields(error=str(exc)))
                grouped = False  # the stream may be gone with its group (a flush)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            for delivery in taken:
                task = asyncio.create_task(self._deliver(http, delivery))
                self._tasks[task] = delivery
                task.add_done_callback(self._done)

    async def _create_group(self) -> None:
        try:
            await self._redis.xgroup_create(
                keys.ADMIN_WEBHOOK_DELIVERIES, GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, count: int) -> list[Delivery]:
        replies = await self._redis.xreadgroup(
            GROUP, self.consumer, {keys.ADMIN_WEBHOOK_DELIVERIES: ">"}, count=count, block=_BLOCK_MS
        )
        return [Delivery.of(i, f) for _, entries in replies or [] for i, f in entries if f]

    async def _take_over(self, count: int) -> list[Delivery]:
        """Deliveries nobody marked for the silence time; the backlog gauge
        and the group's forgotten consumers, on the way."""
        stream = keys.ADMIN_WEBHOOK_DELIVERIES
        _, claimed, *_ = await self._redis.xautoclaim(
            stream, GROUP, self.consumer, self._silence_ms, count=count
        )
        taken = [Delivery.of(i, f) for i, f in claimed if f]
        for delivery in taken:
            metrics.WEBHOOK_TAKEN_OVER.inc()
            log.warning(
                "webhook_delivery_taken_over",
                extra=fields(webhook=delivery.webhook, event=delivery.event),
            )
        metrics.WEBHOOK_BACKLOG.set(await self._redis.xlen(stream))
        for consumer in await self._redis.xinfo_consumers(stream, GROUP):
            if (
                consumer["name"] != self.consumer
                and consumer["pending"] == 0
                and consumer["idle"] > _FORGET_CONSUMER_MS
            ):
                await self._redis.xgroup_delconsumer(stream, GROUP, consumer["name"])
        return taken

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Left pending: taken over once silent, by this instance or another.
            log.warning("webhook_delivery_failed", extra=fields(error=repr(exc)))

    async def _release(self, held: list[Delivery]) -> None:
        """Stopping: what this instance held counts as silent at once, for
        another instance to take over at its next look (a rolling restart
        does not wait out the silence)."""
        if not held:
            return
        try:
            await self._redis.xclaim(
                keys.ADMIN_WEBHOOK_DELIVERIES,
                GROUP,
                self.consumer,
                0,
                [d.id for d in held],
                idle=self._silence_ms,
                justid=True,
            )
        except (RedisError, OSError) as exc:
            log.warning("webhook_release_failed", extra=fields(error=str(exc)))
        else:
            log.info("webhook_deliveries_released", extra=fields(count=len(held)))

    async def _mark(self, delivery: Delivery) -> None:
        """Still held: its silence starts again."""
        await self._redis.xclaim(
            keys.ADMIN_WEBHOOK_DELIVERIES, GROUP, self.consumer, 0, [delivery.id], justid=True
        )

    async def _settle(self, delivery: Delivery) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.ADMIN_WEBHOOK_DELIVERIES, GROUP, delivery.id)
            pipe.xdel(keys.ADMIN_WEBHOOK_DELIVERIES, delivery.id)
            await pipe.execute()

    async def _post(
        self, http: aiohttp.ClientSession, hook: Webhook, secret: str, delivery: Delivery
    ) -> tuple[int, str]:
        """One attempt: the HTTP status (0: no answer) and what went wrong."""
        timestamp = str(self._clock() // 1000)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hotdesk-edge-webhooks",
            "X-Hotdesk-Webhook": hook.id,
            "X-Hotdesk-Event": delivery.event,
            "X-Hotdesk-Timestamp": timestamp,
            "X-Hotdesk-Signature": signature(secret, timestamp, delivery.body),
        }
        try:
            async with http.post(
                hook.url, data=delivery.body, headers=headers, allow_redirects=False
            ) as r:
                return r.status, "" if 200 <= r.status < 300 else f"answered {r.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return 0, f"{type(exc).__name__}: {exc}"[:200]

    async def _deliver(self, http: aiohttp.ClientSession, delivery: Delivery) -> None:
        hook = await self._store.get(delivery.webhook)
        secret = None if hook is None else await self._store.secret(hook.id)
        if hook is not None and secret is not None:  # else removed meanwhile
            await self._attempts(http, hook, secret, delivery)
        await self._settle(delivery)

    async def _attempts(
        self, http: aiohttp.ClientSession, hook: Webhook, secret: str, delivery: Delivery
    ) -> None:
        for attempt in range(self._retry.attempts):
            if attempt:  # reading or taking it over marked it for the first
                await self._mark(delivery)
            status, error = await self._post(http, hook, secret, delivery)
            if not error:
                metrics.WEBHOOK_ATTEMPTS.labels("delivered").inc()
                await self._store.record(hook.id, delivery.event, status, "", outcome="delivered")
                return
            metrics.WEBHOOK_ATTEMPTS.labels("refused" if status else "unreachable").inc()
            last = attempt + 1 == self._retry.attempts
            await self._store.record(
                hook.id, delivery.event, status, error, outcome="failed" if last else None
            )
            if last:
                metrics.WEBHOOK_FAILURES.inc()
                log.warning(
                    "webhook_gave_up",
                    extra=fields(webhook=hook.id, event=delivery.event, status=status, error=error),
                )
                return
            await asyncio.sleep(self._retry.wait(attempt))
