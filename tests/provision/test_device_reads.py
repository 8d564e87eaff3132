"""What one device file costs in Redis, and that a cached file never
outlives the binding it was made for. Real Redis with the demo directory,
the services in-process, aiohttp's digest client as the phone."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from services.kernel import keys
from services.kernel.batch import _Shared
from services.provision.rendercache import RenderCache
from services.provision.vendors.base import Rendered
from tests.provision.test_files import HD3001, fetch
from tests.support.demo import DIRECTORY, DOMAIN, secret
from tests.support.provision import (
    YEALINK_T46U_UA,
    YEALINK_T54W_UA,
    Stack,
    device_cache,
    provision_stack,
)
from tests.support.redis_server import RedisServer
from tests.support.secrets import sealing_box


@asynccontextmanager
async def round_trips(stack: Stack) -> AsyncIterator[Counter[str]]:
    """Round trips of the provision service's Redis client, by the asyncio
    task that made them: each command, or pipeline, takes a connection from
    the pool once, and each batch (``kernel.batch``) is written once on the
    connection batches share (the real methods: wrapped, not replaced)."""
    pool = stack.provision.redis.connection_pool
    taken: Counter[str] = Counter()
    get_connection = pool.get_connection
    send_batch = _Shared._once

    def count() -> None:
        task = asyncio.current_task()
        if task is not None:
            coroutine = getattr(task.get_coro(), "__qualname__", "")
            taken[f"{coroutine}#{task.get_name()}"] += 1

    async def counted(*args: Any, **kwargs: Any) -> Any:
        count()
        return await get_connection(*args, **kwargs)

    async def counted_batch(shared: _Shared, packed: bytes, replies: int) -> list[Any]:
        count()
        return await send_batch(shared, packed, replies)

    pool.get_connection = counted
    _Shared._once = counted_batch  # type: ignore[method-assign, assignment]
    try:
        yield taken
    finally:
        del pool.get_connection  # the class's own again
        _Shared._once = send_batch  # type: ignore[method-assign]


def _cache(result: str) -> float:
    return (
        REGISTRY.get_sample_value("hotdesk_provision_render_cache_total", {"result": result}) or 0.0
    )


def _requests(taken: Counter[str]) -> list[int]:
    """Round trips per HTTP request (each handled in a task of its own;
    background loops run in other tasks)."""
    return [n for task, n in taken.items() if task.startswith("RequestHandler.")]


@pytest.fixture
async def uncached(redis: Redis, redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The stack with no device files kept (``device_cache_entries`` 0)."""
    async with provision_stack(redis_server.url, device_cache_entries=0) as s:
        yield s


async def test_a_kept_device_file_costs_no_read(stack: Stack) -> None:
    """Kept (``tests.provision.test_device_cache``), a device file is served
    after the tracking barrier (a PING on its own connection) without a read;
    the challenge before it reads the failure counters."""
    for _ in range(100):  # until the service's tracking is up (~1 s at most)
        hits = device_cache("hit")
        status, _, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
        assert status == 200
        if device_cache("hit") > hits:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("no fetch was served from memory")
    for _ in range(3):
        hits = device_cache("hit")
        async with round_trips(stack) as taken:
            status, body, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
        assert status == 200 and "HD hd3001" in body
        assert _requests(taken) == [1], taken
        assert device_cache("hit") == hits + 1
    await stack.login("hd3001", "1001")
    misses = device_cache("miss")
    status, body, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200 and "Alice Example" in body and device_cache("miss") == misses + 1
    # That fetch recorded itself and created Alice's profile for the
    # model (a change of what it kept): the next one reads and keeps again,
    # the one after is served from memory.
    await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    hits = device_cache("hit")
    async with round_trips(stack) as taken:
        status, body, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200 and "Alice Example" in body and _requests(taken) == [1], taken
    assert device_cache("hit") == hits + 1


async def test_a_device_file_costs_one_round_trip_two_at_most(uncached: Stack) -> None:
    stack = uncached
    # The first: a device this process has not seen yet (its tenant first),
    # the scripts loaded into Redis, the fetch recorded.
    status, _, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200
    for _ in range(3):
        async with round_trips(stack) as taken:
            status, body, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
        assert status == 200 and "HD hd3001" in body
        # The digest challenge (the failure counters), then the file.
        assert _requests(taken) == [1, 1], taken
    # Who claims an unknown device id waits as long as with a wrong
    # password for a known one (the failure is counted in both cases).
    costs = []
    for device in ("hd3001", "hd3001", "nobody"):
        async with round_trips(stack) as taken:
            status, _, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, device, "wrong")
        assert status == 401
        costs.append(_requests(taken))
    assert costs[1] == costs[2], costs
    # The first fetch after a change records it; the next ones read only.
    await stack.login("hd3001", "1001")
    async with round_trips(stack) as taken:
        await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert max(_requests(taken)) > 1, taken
    async with round_trips(stack) as taken:
        status, body, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200 and "Alice Example" in body and _requests(taken) == [1, 1], taken


async def test_a_cached_file_is_not_served_after_the_generation_changes(stack: Stack) -> None:
    _, idle, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    hits = _cache("hit")
    _, again, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert _cache("hit") == hits + 1 and again == idle  # served from the cache
    await stack.login("hd3001", "1001")
    misses = _cache("miss")
    _, logged_in, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert _cache("miss") == misses + 1
    assert "Alice Example" in logged_in and "HD hd3001" not in logged_in
    await stack.login("hd3001", "1002")  # a takeover
    _, taken_over, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert "Bob Example" in taken_over and "Alice Example" not in taken_over
    await stack.logout("hd3001")
    _, logged_out, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert "Bob Example" not in logged_out and "HD hd3001" in logged_out


def test_the_render_cache_is_bounded_and_checks_what_a_file_is_made_of() -> None:
    now = [0.0]
    cache = RenderCache(max_entries=2, max_age_seconds=10, clock=lambda: now[0])
    a, b = Rendered(b"a", "text/plain"), Rendered(b"b", "text/plain")
    cache.put(("d1", "f", 1, "v"), "inputs", a)
    assert cache.get(("d1", "f", 1, "v"), "inputs") == a
    assert cache.get(("d1", "f", 2, "v"), "inputs") is None  # another generation
    assert cache.get(("d1", "f", 1, "v2"), "inputs") is None  # other templates
    assert cache.get(("d1", "f", 1, "v"), "new secret") is None  # read something else
    cache.put(("d2", "f", 1, "v"), "inputs", b)
    cache.get(("d1", "f", 1, "v"), "inputs")  # d1 used last: d2 goes first
    cache.put(("d3", "f", 1, "v"), "inputs", b)
    assert len(cache) == 2 and cache.get(("d2", "f", 1, "v"), "inputs") is None
    now[0] = 11
    assert cache.get(("d1", "f", 1, "v"), "inputs") is None  # too old


async def _import(redis: Redis, text: str) -> None:
    await DirectoryImporter(
        redis, PinHasher(1, 8, 1), box=sealing_box(), secret_grace_seconds=3600
    ).apply(parse_directory(text, "changed.yaml"))


async def test_a_cached_file_is_not_served_after_its_secret_changes(
    stack: Stack, redis: Redis
) -> None:
    _, before, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert secret("hd3001") in before
    await _import(redis, DIRECTORY.read_text().replace(secret("hd3001"), "rotated-secret-hd3001"))
    status, after, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")  # the old secret
    assert status == 200 and "rotated-secret-hd3001" in after and secret("hd3001") not in after


async def test_a_device_moved_to_another_tenant_is_read_at_the_new_one(
    stack: Stack, redis: Redis
) -> None:
    """The tenant this instance last saw the device in is only a guess,
    checked against the directory in the same round trip."""
    _, before, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert "hotdesk.local" in before and "globex.local" not in before
    # (globex has no country of its own: the desk's location names it)
    moved = (
        DIRECTORY.read_text()
        .replace("model: T54W\n    tenant: acme", "model: T54W\n    tenant: globex")
        .replace(
            'location: {floor: "3", room: "3.14"}',
            'location: {country: GB, a1: England, a3: London, street: Main St, floor: "3"}',
        )
    )
    await _import(redis, moved)
    status, after, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200 and "globex.local" in after and "hotdesk.local" not in after


async def test_an_opened_secret_is_remembered_for_its_own_device_only(
    stack: Stack, redis: Redis
) -> None:
    """Opened secrets are remembered by sealed text and context: a sealed
    copy moved to another device's hash still does not open there."""
    status, _, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200  # hd3001's sealed secret opened, and remembered
    sealed = await redis.hget(keys.sip_credentials(DOMAIN, "hd3001"), "secret_sealed")
    await redis.hset(keys.sip_credentials(DOMAIN, "hd3002"), "secret_sealed", sealed)
    for password in (secret("hd3001"), secret("hd3002")):
        status, _, _ = await fetch(stack, "001565aa3002.cfg", YEALINK_T46U_UA, "hd3002", password)
        assert status == 401
    status, _, _ = await fetch(stack, HD3001, YEALINK_T54W_UA, "hd3001")
    assert status == 200
