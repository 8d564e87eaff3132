"""Device files kept in memory (``kernel.tracking``): what is kept is
dropped by any change of a key it was made of, the barrier makes a change
that completed before a request visible to it, a read that raced a change
is not kept, time ends what a session's end ends, and nothing is served
while Redis cannot tell us what changed. Real Redis with the demo
directory; the binding service in-process for logins (and no provision
service, whose pushes would write the devices' provisioning status)."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from hotdesk.v1 import binding_pb2 as bpb
from redis.asyncio import Redis

from services.binding.service import BindingService, start_binding_service
from services.kernel import keys, sessions
from services.kernel.redis_conn import connect
from services.kernel.tenants import TenantCache
from services.kernel.tracking import TrackedCache, Tracking
from services.provision.devices import DeviceDirectory, DeviceFile
from services.provision.failures import DigestFailures
from services.provision.profiles import model_field
from tests.support.demo import DOMAIN
from tests.support.provision import device_cache, import_demo
from tests.support.redis_server import RedisServer
from tests.support.secrets import sealing_box
from tests.support.services import binding_settings

GROUP = "acme-group"
MAC = "001565aa3001"


@dataclass
class Reads:
    """A device directory that keeps files, as the provision service's."""

    tracking: Tracking
    devices: DeviceDirectory
    failures: DigestFailures

    @classmethod
    async def over(cls, redis: Redis) -> "Reads":
        """Over ``redis``, its tracking started (``stop`` it)."""
        tenants = TenantCache(redis)
        await tenants.refresh()
        tracking = Tracking(redis)
        tracking.start()
        devices = DeviceDirectory(redis, tenants, sealing_box(), tracking=tracking, kept=100)
        return cls(tracking, devices, DigestFailures(redis, 10, 50, 300))

    async def fetch(self, now_ms: int | None = None) -> DeviceFile:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        limited, read = await self.devices.for_fetch(
            self.failures, MAC, "192.0.2.10", "hd3001", now
        )
        assert limited is None and read is not None and read.device is not None
        return read

    async def fetch_counted(self, now_ms: int | None = None) -> tuple[DeviceFile, str]:
        """A fetch, and where it came from (hit, miss or off)."""
        before = {r: device_cache(r) for r in ("hit", "miss", "off")}
        read = await self.fetch(now_ms)
        (came,) = [r for r, n in before.items() if device_cache(r) == n + 1]
        return read, came


async def _usable(tracking: Tracking) -> None:
    for _ in range(200):  # up to ~10 s
        if await tracking.fresh():
            return
        await tracking.batcher.run([], lambda pipe: pipe.get(keys.DIR_VERSION))
        await asyncio.sleep(0.05)
    raise AssertionError("tracking did not come up")


class Desks:
    def __init__(self, binding: BindingService) -> None:
        self._core = binding.core

    async def login(self, device: str, ext: str) -> None:
        await self._core.login(
            device, bpb.UserRef(tenant="acme", extension=ext), allow_takeover=True, actor="test"
        )

    async def logout(self, device: str) -> None:
        await self._core.logout_device(device, reason=bpb.CHANGE_REASON_LOGOUT, actor="test")


@pytest.fixture
async def desks(redis: Redis, redis_server: RedisServer) -> AsyncIterator[Desks]:
    await import_demo(redis_server.url)
    binding = await start_binding_service(binding_settings(redis_server.url))
    yield Desks(binding)
    await binding.stop()


@pytest.fixture
async def reads(desks: Desks, redis: Redis) -> AsyncIterator[Reads]:
    reads = await Reads.over(redis)
    await _usable(reads.tracking)
    yield reads
    await reads.tracking.stop()


async def test_a_kept_file_is_served_without_reading_redis(reads: Reads) -> None:
    first, came = await reads.fetch_counted()
    assert came == "miss"
    for _ in range(3):
        again, came = await reads.fetch_counted()
        assert came == "hit" and again == first


def _set(key: str, field: str, value: str) -> Callable[[Redis], Awaitable[object]]:
    return lambda r: r.hset(key, field, value)


CHANGES: dict[str, Callable[[Redis], Awaitable[object]]] = {
    # What the script reads by its KEYS.
    "the device": _set(keys.device(GROUP, "hd3001"), "model", "T46U"),
    # Read beside the script.
    "its secret": _set(keys.sip_credentials(DOMAIN, "hd3001"), "previous_until", "1"),
    "its tenant": _set(keys.DIR_DEVICES, "hd3001", "acme"),
    "the directory": lambda r: r.incr(keys.DIR_VERSION),
    # Found by the script on its own (the session's user), read again.
    "the user's name": _set(keys.user(GROUP, "acme", "1001"), "name", "Alicia Example"),
    "the user's profile": _set(
        keys.profiles(GROUP, "acme", "1001"), model_field("yealink", "T54W"), "{}"
    ),
}


@pytest.mark.parametrize("change", CHANGES)
async def test_a_change_of_anything_a_kept_file_was_made_of_drops_it(
    reads: Reads, desks: Desks, redis: Redis, change: str
) -> None:
    await desks.login("hd3001", "1001")
    await reads.fetch()
    _, came = await reads.fetch_counted()
    assert came == "hit"
    await CHANGES[change](redis)
    _, came = await reads.fetch_counted()
    assert came == "miss"


async def test_the_fetch_recorded_keeps_what_was_kept(reads: Reads, desks: Desks) -> None:
    """The first fetch of a generation writes its fetch record: what that
    fetch kept stays, and says the generation was fetched."""
    await desks.login("hd3001", "1001")
    read, came = await reads.fetch_counted()
    assert came == "miss" and read.device is not None
    assert read.fetched_generation < read.device.generation
    reads.devices.fetched("hd3001", read.device.generation)
    again, came = await reads.fetch_counted()
    assert came == "hit" and again.fetched_generation == read.device.generation


async def test_a_change_is_seen_by_the_next_request_after_it(
    reads: Reads, desks: Desks, redis: Redis
) -> None:
    """The write completes, then the request comes (as a login's check-sync
    NOTIFY makes the phone ask): the barrier has the change reach the cache
    first, every time."""
    await desks.login("hd3001", "1001")
    user = keys.user(GROUP, "acme", "1001")
    for i in range(30):
        await reads.fetch()  # kept
        await redis.hset(user, "name", f"Alice {i}")
        read = await reads.fetch()
        assert read.device is not None and read.device.user is not None
        assert read.device.user.name == f"Alice {i}"


async def test_logins_takeovers_and_logouts_are_seen_at_once(reads: Reads, desks: Desks) -> None:
    assert (await reads.fetch()).device.user is None  # type: ignore[union-attr]
    await reads.fetch()
    for ext, name in (("1001", "Alice Example"), ("1002", "Bob Example")):
        await desks.login("hd3001", ext)
        read = await reads.fetch()
        assert read.device is not None and read.device.user is not None
        assert read.device.user.name == name
    await desks.logout("hd3001")
    assert (await reads.fetch()).device.user is None  # type: ignore[union-attr]


async def test_a_kept_file_ends_with_its_session(reads: Reads, desks: Desks, redis: Redis) -> None:
    """What time alone ends (the session's expiry, here) is not served past
    it, though nothing in Redis changed."""
    await desks.login("hd3001", "1001")
    expires = int(time.time() * 1000) + 3_600_000
    await redis.hset(keys.device(GROUP, "hd3001"), sessions.EXPIRES_MS, str(expires))
    read = await reads.fetch(expires - 2)
    assert read.device is not None and read.device.user is not None
    assert read.until_ms == expires
    read, came = await reads.fetch_counted(expires - 1)
    assert came == "hit"
    read, came = await reads.fetch_counted(expires)
    assert came == "miss" and read.device is not None and read.device.user is None


@asynccontextmanager
async def tracking_over(redis: Redis) -> AsyncIterator[Tracking]:
    """``redis``'s tracking, started and up (stopped after)."""
    tracking = Tracking(redis)
    tracking.start()
    try:
        await _usable(tracking)
        yield tracking
    finally:
        await tracking.stop()


async def read_for(tracking: Tracking, key: str) -> tuple[int, str | None]:
    """A token, then ``key`` read through the tracked connection."""
    token = tracking.token()
    (value,) = await tracking.batcher.run([], lambda pipe: pipe.get(key))
    return token, value


async def keep(cache: TrackedCache[str | None], tracking: Tracking, key: str) -> bool:
    """``key`` read through the tracked connection, kept as "k" in
    ``cache``: whether it was."""
    token, value = await read_for(tracking, key)
    return cache.put("k", value, [key], token)


async def test_a_value_read_before_a_change_reached_us_is_not_kept(redis: Redis) -> None:
    async with tracking_over(redis) as tracking:
        cache = tracking.cache(10)
        await redis.set("hd:{t}:k", "1")
        token, value = await read_for(tracking, "hd:{t}:k")
        await redis.set("hd:{t}:k", "2")  # after the read: the value is old
        assert await tracking.fresh()
        assert not cache.put("k", value, ["hd:{t}:k"], token)
        token, value = await read_for(tracking, "hd:{t}:k")
        assert cache.put("k", value, ["hd:{t}:k"], token) and cache.get("k") == "2"


async def test_a_change_of_other_keys_while_reading_does_not_stop_keeping(
    redis: Redis,
) -> None:
    """Only an invalidation of a value's own keys refuses it: logins
    elsewhere (every key some fetch read) do not keep a fleet from being
    kept."""
    async with tracking_over(redis) as tracking:
        cache = tracking.cache(10)
        await redis.mset({"hd:{t}:mine": "1", "hd:{t}:other": "1"})
        await read_for(tracking, "hd:{t}:other")  # tracked
        token, value = await read_for(tracking, "hd:{t}:mine")
        await redis.set("hd:{t}:other", "2")
        assert await tracking.fresh() and tracking.token() > token  # its invalidation came
        assert cache.put("mine", value, ["hd:{t}:mine"], token)


async def _cut_invalidations(redis: Redis) -> None:
    """Close every connection Redis pushes invalidations to (where a
    tracked connection redirects them)."""
    for client in await redis.client_list():
        if client.get("redir", "-1") not in ("-1", "0"):
            await redis.client_kill_filter(_id=client["redir"])


async def test_nothing_kept_is_served_while_changes_cannot_reach_us(
    reads: Reads, desks: Desks, redis: Redis
) -> None:
    await reads.fetch()
    await desks.login("hd3001", "1001")  # dropped at once
    await reads.fetch()
    _, came = await reads.fetch_counted()
    assert came == "hit"
    await _cut_invalidations(redis)
    # A change made while nobody can be told: not missed.
    await desks.login("hd3001", "1002")
    read, came = await reads.fetch_counted()
    assert came == "off"
    assert read.device is not None and read.device.user is not None
    assert read.device.user.name == "Bob Example"
    await _usable(reads.tracking)
    await reads.fetch()
    read, came = await reads.fetch_counted()
    assert came == "hit" and read.device is not None and read.device.user is not None
    assert read.device.user.name == "Bob Example"


async def test_without_tracking_allowed_every_fetch_reads_redis(
    desks: Desks, redis: Redis, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis user that may not turn tracking on: files are read, never
    kept (counted ``off``), and the refusal is logged."""
    await redis.acl_setuser(
        "untracked",
        enabled=True,
        passwords=["+pw"],
        keys=["*"],
        commands=["+@all", "-client|tracking"],
    )
    untracked = Redis(
        port=redis_server.port, username="untracked", password="pw", decode_responses=True
    )
    reads = await Reads.over(untracked)
    try:
        await desks.login("hd3001", "1001")
        for _ in range(100):  # until the refusal (the connections are up)
            await reads.fetch()
            if any(r.message == "tracking_refused" for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("tracking was not refused")
        for _ in range(3):
            read, came = await reads.fetch_counted()
            assert came == "off" and read.device is not None and read.device.user is not None
    finally:
        await reads.tracking.stop()
        await untracked.aclose()
        await redis.acl_deluser("untracked")


async def test_nothing_kept_outlives_a_redis_restart(own_redis_server: RedisServer) -> None:
    """Both connections break with Redis: what was kept goes, and once they
    are back, changes reach the cache again."""
    redis = connect(own_redis_server.url)
    key = "hd:{t}:k"
    try:
        async with tracking_over(redis) as tracking:
            cache = tracking.cache(10)
            await redis.set(key, "1")
            assert await keep(cache, tracking, key)
            own_redis_server.restart(hard=True)
            await redis.set(key, "2")  # the client reconnects; nobody told us
            await _usable(tracking)
            assert cache.get("k") is None
            assert await keep(cache, tracking, key)
            assert cache.get("k") == "2"
            await redis.set(key, "3")
            assert await tracking.fresh() and cache.get("k") is None
    finally:
        await redis.aclose()


async def test_a_late_pong_serves_nothing_kept_until_tracking_is_back(
    redis: Redis, redis_server: RedisServer
) -> None:
    """Redis stops answering (paused) longer than the socket timeout: the
    barrier fails, what was kept goes, and tracking comes back after."""
    client = connect(redis_server.url, socket_timeout=0.5)
    key = "hd:{t}:k"
    try:
        async with tracking_over(client) as tracking:
            cache = tracking.cache(10)
            await redis.set(key, "1")
            assert await keep(cache, tracking, key)
            await redis.execute_command("CLIENT", "PAUSE", "1500", "ALL")
            assert not await tracking.fresh()
            assert cache.get("k") is None
            await _usable(tracking)
    finally:
        await client.aclose()
