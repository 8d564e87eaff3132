"""Telling phones to fetch their files after every binding change.

Reads every group's event stream through the consumer group ``provision``
(at-least-once: an entry stays pending until acknowledged; on start this
instance first takes up its own pending entries, and it claims those a dead
instance left idle). Changes of one device read together collapse into one
push of the newest generation. A push is skipped when the device already
got (or fetched) that generation, which makes redelivery harmless.

A push is: wait for the pacing bucket, send the NOTIFY, then — before its
answer is in — record the pushed generation and acknowledge the entries in
one Redis step. A restart therefore neither misses a change (unacknowledged
entries come back) nor repeats a push (recorded ones are skipped); only a
crash between the send and that step, a moment, can repeat one.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from services.kernel import keys
from services.kernel.clock import Clock
from services.kernel.lifecycle import cancel_and_wait
from services.kernel.logs import fields
from services.kernel.redis_conn import is_cluster
from services.kernel.tenants import TenantCache
from services.provision import metrics
from services.provision.pacing import TokenBucket
from services.provision.status import StatusBook
from services.provision.vendors import VENDORS

log = logging.getLogger(__name__)

CONSUMER_GROUP = "provision"


class SentPush(Protocol):
    """A NOTIFY that has left; ``outcome()`` waits for its answer:
    delivered, not_registered, rejected or timeout."""

    async def outcome(self) -> str: ...


# Sends a check-sync NOTIFY (device id, SIP domain, Event header value).
SendPush = Callable[[str, str, str], Awaitable[SentPush]]


@dataclass
class PushJob:
    group: str
    device: str
    generation: int
    changed_ms: int  # when the newest change happened
    entry_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConsumerOptions:
    consumer: str
    batch: int
    claim_idle_ms: int
    workers: int
    block_ms: int = 1000
    # Redis Cluster: the pause between rounds of reads that found nothing.
    poll_ms: int = 100


def collapse(group: str, entries: list[tuple[str, dict[str, str]]]) -> list[PushJob]:
    """One job per device: the newest generation, every entry id. Entries
    that are not device changes are acknowledged with the first job (or
    returned as a job for no device)."""
    jobs: dict[str, PushJob] = {}
    stray: list[str] = []
    for entry_id, values in entries:
        device = values.get("device", "")
        try:
            gen, ts = int(values.get("gen", "")), int(values.get("ts_ms", "0"))
        except ValueError:
            stray.append(entry_id)
            continue
        if not device:
            stray.append(entry_id)
            continue
        job = jobs.setdefault(device, PushJob(group, device, 0, 0))
        job.entry_ids.append(entry_id)
        if gen > job.generation:
            job.generation, job.changed_ms = gen, ts
    out = list(jobs.values())
    if stray:
        out.append(PushJob(group, "", 0, 0, stray))
    return out


class ResyncConsumer:
    def __init__(
        self,
        redis: Redis,
        tenants: TenantCache,
        status: StatusBook,
        send: SendPush,
        bucket: TokenBucket,
        options: ConsumerOptions,
        clock: Clock,
    ) -> None:
        self._redis = redis
        self._tenants = tenants
        self._status = status
        self._send = send
        self._bucket = bucket
        self._options = options
        self._clock = clock
        self._queue: asyncio.Queue[PushJob] = asyncio.Queue(maxsize=2 * options.batch)
        self._queued: set[str] = set()  # entry ids read but not yet finished here
        self._groups: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[SentPush | None]] = set()
        self._answers: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._read_loop()))
        self._tasks += [asyncio.create_task(self._worker()) for _ in range(self._options.workers)]

    async def stop(self) -> None:
        """Stop reading and pushing; a push already leaving is finished and
        recorded first. What was read and not pushed stays pending in Redis."""
        await cancel_and_wait(self._tasks)
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await cancel_and_wait(list(self._answers))

    # Reading

    async def _ensure_groups(self) -> list[str]:
        groups = {t.group for t in self._tenants.by_id.values()}
        for g in sorted(groups - self._groups):
            try:
                await self._redis.xgroup_create(
                    keys.events(g), CONSUMER_GROUP, id="0", mkstream=True
                )
                log.info("consumer_group_created", extra=fields(stream=keys.events(g)))
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._groups.add(g)
        return sorted(groups)

    async def _read_loop(self) -> None:
        # Per stream: "0"-based ids while paging through this instance's own
        # pending entries (what a previous run read and did not finish),
        # then ">" for new ones.
        cursors: dict[str, str] = {}
        while True:
            try:
                groups = await self._ensure_groups()
                if not groups:
                    await asyncio.sleep(self._options.block_ms / 1000)
                    continue
                streams = {keys.events(g): cursors.setdefault(keys.events(g), "0") for g in groups}
                catching_up = any(c != ">" for c in streams.values())
                if is_cluster(self._redis):
                    got = await self._read_each(streams, catching_up)
                else:
                    replies = await self._redis.xreadgroup(
                        CONSUMER_GROUP,
                        self._options.consumer,
                        streams,
                        count=self._options.batch,
                        block=None if catching_up else self._options.block_ms,
                    )
                    got = _by_stream(replies)
                for g in groups:
                    stream = keys.events(g)
                    entries = got.get(stream, [])
                    if streams[stream] != ">":
                        cursors[stream] = entries[-1][0] if entries else ">"
                    await self._enqueue(g, entries)
                await self._claim_idle(groups)
            except (RedisError, OSError) as exc:
                log.warning("consumer_read_failed", extra=fields(error=str(exc)))
                await asyncio.sleep(1.0)

    async def _read_each(self, streams: dict[str, str], catching_up: bool) -> dict[str, list[Any]]:
        """On a Redis Cluster one command cannot read streams of different
        slots: one XREADGROUP per stream, all in one pipeline (a round trip
        per node); when nothing new came, a pause of ``poll_ms`` instead of
        a blocking read."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream, cursor in streams.items():
                pipe.xreadgroup(
                    CONSUMER_GROUP, self._options.consumer, {stream: cursor}, self._options.batch
                )
            got: dict[str, list[Any]] = {}
            for reply in await pipe.execute():
                got |= _by_stream(reply)
        if not catching_up and not any(got.values()):
            await asyncio.sleep(self._options.poll_ms / 1000)
        return got

    async def _claim_idle(self, groups: list[str]) -> None:
        """Take over entries another instance read and left idle (it died)."""
        for g in groups:
            reply = await self._redis.xautoclaim(
                keys.events(g),
                CONSUMER_GROUP,
                self._options.consumer,
                self._options.claim_idle_ms,
                count=self._options.batch,
            )
            claimed = [e for e in reply[1] if e[0] not in self._queued]
            if claimed:
                log.info("consumer_claimed", extra=fields(stream=keys.events(g), n=len(claimed)))
                await self._enqueue(g, claimed)

    async def _enqueue(self, group: str, entries: list[Any]) -> None:
        fresh = [(i, v) for i, v in entries if i not in self._queued and v is not None]
        for job in collapse(group, fresh):
            self._queued.update(job.entry_ids)
            await self._queue.put(job)
            metrics.PUSHES_WAITING.set(self._queue.qsize())

    # Pushing

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            metrics.PUSHES_WAITING.set(self._queue.qsize())
            try:
                await self._push(job)
            except (RedisError, OSError) as exc:
                # Not acknowledged: redelivered after a restart, or claimed.
                log.warning("push_failed", extra=fields(device=job.device, error=str(exc)))
            finally:
                self._queued.difference_update(job.entry_ids)

    async def _push(self, job: PushJob) -> None:
        if not job.device:
            await self._status.acknowledge(job.group, CONSUMER_GROUP, job.entry_ids)
            return
        state = await self._status.read(job.group, job.device)
        done = max(int(state.get("pushed_gen", 0)), int(state.get("fetched_gen", 0)))
        if done >= job.generation:
            metrics.PUSHES.labels("skipped").inc()
            await self._status.acknowledge(job.group, CONSUMER_GROUP, job.entry_ids)
            return
        target = await self._target(job)
        if target is None:
            metrics.PUSHES.labels("gone").inc()
            await self._status.acknowledge(job.group, CONSUMER_GROUP, job.entry_ids)
            return
        await self._bucket.take()
        # Sending and recording finish even when stop() cancels the worker.
        sending = asyncio.create_task(self._send_and_record(job, *target))
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)
        sent = await asyncio.shield(sending)
        if sent is not None:
            answer = asyncio.create_task(self._record_outcome(job, sent))
            self._answers.add(answer)
            answer.add_done_callback(self._answers.discard)

    async def _target(self, job: PushJob) -> tuple[str, str] | None:
        """(SIP domain, check-sync Event) of the device, None if it is gone."""
        tenant_id, vendor_name = await self._redis.hmget(
            keys.device(job.group, job.device), "tenant", "vendor"
        )
        tenant = self._tenants.by_id.get(tenant_id or "")
        vendor = VENDORS.get(vendor_name or "")
        if tenant is None or vendor is None:
            return None
        return tenant.domain, vendor.check_sync_event

    async def _send_and_record(self, job: PushJob, domain: str, event: str) -> SentPush | None:
        sent = await self._send(job.device, domain, event)
        now = self._clock()
        await self._status.pushed(
            job.group,
            job.device,
            job.generation,
            now,
            job.changed_ms,
            CONSUMER_GROUP,
            job.entry_ids,
        )
        if job.changed_ms:
            metrics.PUSH_DELAY_SECONDS.observe(max(0.0, (now - job.changed_ms) / 1000))
        return sent

    async def _record_outcome(self, job: PushJob, sent: SentPush) -> None:
        outcome = await sent.outcome()
        metrics.PUSHES.labels(outcome).inc()
        log.info(
            "pushed",
            extra=fields(device=job.device, generation=job.generation, outcome=outcome),
        )
        with contextlib.suppress(RedisError, OSError):
            await self._status.push_result(job.group, job.device, outcome)


def _by_stream(replies: Any) -> dict[str, list[Any]]:
    """XREADGROUP's reply (RESP2 list or RESP3 map) by stream name."""
    if isinstance(replies, dict):
        return {name: (v[0] if v and isinstance(v[0], list) else v) for name, v in replies.items()}
    return {name: entries for name, entries in (replies or [])}
