"""PINs at rest: hashing off the event loop, and rehashing that cannot undo
a PIN change."""

import asyncio
import threading

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.pins import PinHasher
from services.auth.store import PinStore, pin_key
from services.kernel.tenants import TenantCache, TenantConfig
from tests.auth.conftest import cheap_settings


async def store_of(redis: Redis, **settings: object) -> PinStore:
    tenants = TenantCache(redis)
    await tenants.refresh()
    return PinStore(redis, tenants, cheap_settings(**settings))


async def test_rehash_does_not_undo_a_pin_change(redis: Redis, acme: TenantConfig) -> None:
    store = await store_of(redis, argon2_time_cost=2)
    alice = await store.existing_user(pb.UserRef(tenant="acme", extension="1001"))
    _, verified = await store.pin_hash(alice)
    assert verified is not None and await store.verify(verified, "4711")
    await store.set_pin(alice, "9731")  # an operator, meanwhile
    changed = await redis.get(pin_key(alice))
    await store.rehash_if_needed(alice, verified, "4711")
    assert await redis.get(pin_key(alice)) == changed


async def test_argon2_runs_off_the_event_loop_a_few_at_a_time(
    redis: Redis, acme: TenantConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verifications block their thread until the test, on the event loop,
    releases them: that works only if they run off the loop. Two slots: the
    third verification waits for one."""
    store = await store_of(redis, argon2_max_concurrency=2)
    loop = asyncio.get_running_loop()
    both_slots_taken = asyncio.Event()
    release = threading.Event()
    lock = threading.Lock()
    running, most = 0, 0

    def blocking_verify(self: PinHasher, pin_hash: str, pin: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 2:
                loop.call_soon_threadsafe(both_slots_taken.set)
        released = release.wait(timeout=5)
        with lock:
            running -= 1
        return not released  # False, unless the loop never got to release

    monkeypatch.setattr(PinHasher, "verify", blocking_verify)
    verifications = asyncio.gather(*(store.verify(None, "4711") for _ in range(6)))
    try:
        await asyncio.wait_for(both_slots_taken.wait(), timeout=5)
        await asyncio.sleep(0.05)  # time for a third to start, were it let in
        assert running == 2
    finally:
        release.set()
    assert await verifications == [False] * 6
    assert most == 2
