"""Randomized concurrent logins, logouts, takeovers, moves and expiries
against real Redis, with the invariants checked after every batch:

* a device has at most one user, a user at most one device, and the two
  sides agree; the ``bound`` set and the expiry index match the hashes;
* replaying the event streams from the start gives exactly the current
  state, every event's ``old_user`` is what the replay held before it, and
  each device's generation goes up by one per event;
* what the core reads back (``list``) is that state minus expired sessions.
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
    TenantConfig(id="y", domain="y.example", cross_tenant_group="xy", second_login="deny"),
]
GROUPS = sorted({t.group for t in TENANTS})
DEVICES_PER_TENANT = 4
USERS_PER_TENANT = 6
BATCHES = 150
OPS_PER_BATCH = 24
LOGOUT_REASONS = [pb.CHANGE_REASON_LOGOUT, pb.CHANGE_REASON_OPERATOR, pb.CHANGE_REASON_DIRECTORY]


def device_id(t: TenantConfig, i: int) -> str:
    return f"{t.id}-d{i}"


@dataclass
class Replay:
    """Device → user as the event stream tells it, and the last generation."""

    user: dict[str, str] = field(default_factory=dict)
    gen: dict[str, int] = field(default_factory=dict)
    last_id: str = "0-0"

    def apply(self, entry_id: str, ev: dict[str, str]) -> None:
        d = ev["device"]
        assert ev["old_user"] == self.user.get(d, ""), (entry_id, ev)
        assert int(ev["gen"]) == self.gen.get(d, 0) + 1, (entry_id, ev)
        assert ev["type"] == ("login" if ev["new_user"] else "logout"), (entry_id, ev)
        assert ev["device_tenant"] == d.split("-")[0], (entry_id, ev)
        self.gen[d] = int(ev["gen"])
        if ev["new_user"]:
            self.user[d] = ev["new_user"]
        else:
            self.user.pop(d, None)
        self.last_id = entry_id


async def _check_group(
    redis: Redis, group: str, replay: Replay
) -> tuple[dict[str, str], dict[str, int]]:
    """Checks one group; returns its sessions (device → user, expired ones
    included) and their expiries (device → ms, for those that have one)."""
    members = [t for t in TENANTS if t.group == group]
    devices: dict[str, str] = {}  # device -> "tenant/ext"
    expiry: dict[str, int] = {}
    gens: dict[str, int] = {}
    for t in members:
        for i in range(DEVICES_PER_TENANT):
            d = device_id(t, i)
            h = await redis.hgetall(keys.device(group, d))
            gens[d] = int(h.get("gen", 0))
            if "user_ext" in h:
                devices[d] = f"{h['user_tenant']}/{h['user_ext']}"
                if int(h["expires_ms"]) > 0:
                    expiry[d] = int(h["expires_ms"])
    users: dict[str, str] = {}  # "tenant/ext" -> device
    for t in members:
        for i in range(USERS_PER_TENANT):
            on = await redis.hget(keys.user(group, t.id, f"10{i}"), "device")
            if on is not None:
                users[f"{t.id}/10{i}"] = on
    # One user per device, one device per user, both sides agree.
    assert {u: d for d, u in devices.items()} == users
    assert len(set(devices.values())) == len(devices)
    assert await redis.smembers(keys.bound(group)) == set(devices)
    assert dict(await redis.zrange(keys.expiry(group), 0, -1, withscores=True)) == expiry

    for entry_id, ev in await redis.xrange(keys.events(group), f"({replay.last_id}"):
        replay.apply(entry_id, ev)
    assert replay.user == devices
    assert replay.gen == {d: g for d, g in gens.items() if g}
    return devices, expiry


async def _check(redis: Redis, core: BindingCore, replays: dict[str, Replay], now: int) -> None:
    live: dict[str, str] = {}
    for group in GROUPS:
        sessions, expiry = await _check_group(redis, group, replays.setdefault(group, Replay()))
        live |= {d: u for d, u in sessions.items() if expiry.get(d, now + 1) > now}
    listed = await core.list(None, include_idle=False)
    assert {
        d.device_id: f"{d.binding.tenant}/{d.binding.extension}" for d in listed.devices
    } == live


def _user(rng: random.Random, tenant: TenantConfig) -> pb.UserRef:
    """Mostly a user of the tenant, sometimes one of its cross-tenant partner,
    sometimes named by hot-desk id."""
    user_tenant = tenant
    if tenant.cross_tenant_group and rng.random() < 0.3:
        user_tenant = next(t for t in TENANTS if t.group == tenant.group and t is not tenant)
    i = rng.randrange(USERS_PER_TENANT)
    if rng.random() < 0.2:
        return pb.UserRef(hotdesk_id=f"{user_tenant.id}-u{i}")
    return pb.UserRef(tenant=user_tenant.id, extension=f"10{i}")


async def _operation(core: BindingCore, rng: random.Random, clock: FakeClock) -> None:
    tenant = rng.choice(TENANTS)
    device = device_id(tenant, rng.randrange(DEVICES_PER_TENANT))
    user = _user(rng, tenant)
    roll = rng.random()
    if roll < 0.55:
        r = await core.login(device, user, allow_takeover=rng.random() < 0.6, actor="prop")
        if r.result in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN):
            assert r.binding.device_id == device
        else:
            assert r.result in (
                pb.LOGIN_RESULT_DEVICE_OCCUPIED,
                pb.LOGIN_RESULT_ACTIVE_ELSEWHERE,
            ), r
    elif roll < 0.7:
        await core.logout_device(device, reason=rng.choice(LOGOUT_REASONS), actor="prop")
    elif roll < 0.85:
        await core.logout_user(user, reason=rng.choice(LOGOUT_REASONS), actor="prop")
    else:
        clock.advance(rng.uniform(0, 20))
        await core.expire_due()


@pytest.mark.parametrize("seed_value", [1, 2])
async def test_invariants_hold_under_concurrent_changes(redis: Redis, seed_value: int) -> None:
    for t in TENANTS:
        await seed.tenant(redis, t)
        for i in range(DEVICES_PER_TENANT):
            await seed.device(redis, t, device_id(t, i))
        for i in range(USERS_PER_TENANT):
            await seed.user(redis, t, f"10{i}", hotdesk_id=f"{t.id}-u{i}")
    tenants = TenantCache(redis)
    await tenants.refresh()
    clock = FakeClock()
    # Several cores on one Redis, like several service replicas.
    cores = [BindingCore(redis, tenants, clock=clock) for _ in range(3)]
    rng = random.Random(seed_value)
    replays: dict[str, Replay] = {}
    for _ in range(BATCHES):
        await asyncio.gather(
            *(_operation(rng.choice(cores), rng, clock) for _ in range(OPS_PER_BATCH))
        )
        await _check(redis, cores[0], replays, clock.now)
    counts: dict[str, int] = {}
    for group in GROUPS:
        for _, ev in await redis.xrange(keys.events(group)):
            counts[ev["reason"]] = counts.get(ev["reason"], 0) + 1
    # The run really exercised every kind of change.
    for reason in ("login", "logout", "takeover", "moved", "expired", "operator", "directory"):
        assert counts.get(reason, 0) > 10, counts
