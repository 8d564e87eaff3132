"""Randomized concurrent logins, logouts, takeovers, moves and expiries
against real Redis, with the invariants checked after every batch:

* a device has at most one user, a user at most one device, and the two
  sides agree; the ``bound`` set and the expiry index match the hashes;
* replaying the event streams from the start gives exactly the current
  state, every event's ``old_user`` is what the replay held before it, and
  each device's generation goes up by one per event.
"""

import asyncio
import random
from dataclasses import dataclass, field

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding.core import BindingCore
from services.kernel import keys
from services.kernel.tenants import TenantCache, TenantConfig
from tests.support import seed
from tests.support.clock import FakeClock

TENANTS = [
    TenantConfig(id="acme", domain="acme.example", max_login_seconds=30),
    TenantConfig(id="strict", domain="strict.example", second_login="deny"),
    TenantConfig(id="x", domain="x.example", cross_tenant_group="xy", max_login_seconds=45),
    TenantConfig(id="y", domain="y.example", cross_tenant_group="xy"),
]
DEVICES_PER_TENANT = 4
USERS_PER_TENANT = 6
BATCHES = 150
OPS_PER_BATCH = 24


@dataclass
class Replay:
    """Device → user as the event stream tells it, and the last generation."""

    user: dict[str, str] = field(default_factory=dict)
    gen: dict[str, int] = field(default_factory=dict)
    last_id: str = "0-0"


async def _check(redis: Redis, replays: dict[str, Replay]) -> None:
    for group in {t.group for t in TENANTS}:
        devices: dict[str, str] = {}  # device -> "tenant/ext"
        expiring: set[str] = set()
        gens: dict[str, int] = {}
        for t in (t for t in TENANTS if t.group == group):
            for i in range(DEVICES_PER_TENANT):
                d = f"{t.id}-d{i}"
                h = await redis.hgetall(keys.device(group, d))
                gens[d] = int(h.get("gen", 0))
                if "user_ext" in h:
                    devices[d] = f"{h['user_tenant']}/{h['user_ext']}"
                    if int(h["expires_ms"]) > 0:
                        expiring.add(d)
        users: dict[str, str] = {}  # "tenant/ext" -> device
        for t in (t for t in TENANTS if t.group == group):
            for i in range(USERS_PER_TENANT):
                device = await redis.hget(keys.user(group, t.id, f"10{i}"), "device")
                if device is not None:
                    users[f"{t.id}/10{i}"] = device
        # One user per device, one device per user, both sides agree.
        assert {u: d for d, u in devices.items()} == users
        assert len(set(devices.values())) == len(devices)
        assert await redis.smembers(keys.bound(group)) == set(devices)
        assert set(await redis.zrange(keys.expiry(group), 0, -1)) == expiring

        replay = replays.setdefault(group, Replay())
        for entry_id, ev in await redis.xrange(keys.events(group), f"({replay.last_id}"):
            replay.last_id = entry_id
            d = ev["device"]
            assert ev["old_user"] == replay.user.get(d, ""), (entry_id, ev)
            assert int(ev["gen"]) == replay.gen.get(d, 0) + 1, (entry_id, ev)
            replay.gen[d] = int(ev["gen"])
            if ev["new_user"]:
                replay.user[d] = ev["new_user"]
            else:
                replay.user.pop(d, None)
        assert replay.user == devices
        assert {d: g for d, g in replay.gen.items()} == {d: g for d, g in gens.items() if g}


async def _operation(core: BindingCore, rng: random.Random, clock: FakeClock) -> None:
    tenant = rng.choice(TENANTS)
    device = f"{tenant.id}-d{rng.randrange(DEVICES_PER_TENANT)}"
    # Mostly same-tenant users; sometimes one from the cross-tenant partner.
    user_tenant = tenant
    if tenant.cross_tenant_group and rng.random() < 0.3:
        user_tenant = next(t for t in TENANTS if t.group == tenant.group and t is not tenant)
    user = pb.UserRef(tenant=user_tenant.id, extension=f"10{rng.randrange(USERS_PER_TENANT)}")
    roll = rng.random()
    if roll < 0.55:
        r = await core.login(device, user, allow_takeover=rng.random() < 0.6, actor="prop")
        assert r.result != pb.LOGIN_RESULT_UNSPECIFIED
    elif roll < 0.7:
        await core.logout_device(device, reason=pb.CHANGE_REASON_LOGOUT, actor="prop")
    elif roll < 0.85:
        await core.logout_user(user, reason=pb.CHANGE_REASON_OPERATOR, actor="prop")
    else:
        clock.advance(rng.uniform(0, 20))
        await core.expire_due()


@pytest.mark.parametrize("seed_value", [1, 2])
async def test_invariants_hold_under_concurrent_changes(redis: Redis, seed_value: int) -> None:
    for t in TENANTS:
        await seed.tenant(redis, t)
        for i in range(DEVICES_PER_TENANT):
            await seed.device(redis, t, f"{t.id}-d{i}")
        for i in range(USERS_PER_TENANT):
            await seed.user(redis, t, f"10{i}")
    tenants = TenantCache(redis)
    await tenants.refresh()
    clock = FakeClock()
    # Several cores on one Redis, like several service replicas.
    cores = [BindingCore(redis, tenants, clock=clock) for _ in range(3)]
    rng = random.Random(seed_value)
    replays: dict[str, Replay] = {}
    counts: dict[str, int] = {}
    for _ in range(BATCHES):
        await asyncio.gather(
            *(_operation(rng.choice(cores), rng, clock) for _ in range(OPS_PER_BATCH))
        )
        await _check(redis, replays)
    for group in {t.group for t in TENANTS}:
        for _, ev in await redis.xrange(keys.events(group)):
            counts[ev["reason"]] = counts.get(ev["reason"], 0) + 1
    # The run really exercised every kind of change.
    for reason in ("login", "logout", "takeover", "moved", "expired", "operator"):
        assert counts.get(reason, 0) > 10, counts
