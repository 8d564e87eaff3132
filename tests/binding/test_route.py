"""Kamailio's lookup: every caller and callee kind, and its one round trip."""

from collections.abc import Awaitable, Callable

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding.core import BindingCore
from services.kernel import keys
from services.kernel.tenants import FeatureCodes, TenantConfig
from tests.binding.conftest import fresh_core, login
from tests.support import seed
from tests.support.clock import FakeClock
from tests.support.redis_traffic import Traffic, traffic


def route(
    caller: str, callee: str, domain: str = "acme.example", callee_domain: str = ""
) -> pb.RouteRequest:
    return pb.RouteRequest(
        caller_user=caller,
        caller_domain=domain,
        callee_user=callee,
        callee_domain=callee_domain or domain,
    )


async def test_bound_device_calls_bound_user(core: BindingCore) -> None:
    await login(core, "hd3001", "1001")
    await login(core, "hd3002", "1002")
    r = await core.route(route("hd3001", "1002"))
    assert r.caller_kind == pb.CALLER_KIND_DEVICE_BOUND
    assert (r.caller_tenant, r.caller_extension, r.caller_display_name) == (
        "acme",
        "1001",
        "Alice Example",
    )
    assert r.caller_id == "+493012341001"
    assert r.emergency_caller_id == "+4930123450000"
    assert r.callee_kind == pb.CALLEE_KIND_USER_BOUND
    assert (r.callee_device, r.callee_device_domain) == ("hd3002", "acme.example")


async def test_idle_device_and_logged_out_user(core: BindingCore) -> None:
    r = await core.route(route("hd3001", "1002"))
    assert r.caller_kind == pb.CALLER_KIND_DEVICE_IDLE
    assert r.emergency_caller_id == "+4930123450000"
    assert (r.caller_tenant, r.caller_extension, r.caller_id) == ("", "", "")
    assert r.callee_kind == pb.CALLEE_KIND_USER_LOGGED_OUT
    assert r.callee_device == ""


@pytest.mark.parametrize(
    ("number", "kind", "feature"),
    [
        ("112", pb.CALLEE_KIND_EMERGENCY, ""),
        ("911", pb.CALLEE_KIND_EMERGENCY, ""),
        ("*45", pb.CALLEE_KIND_FEATURE_CODE, "login"),
        ("*46", pb.CALLEE_KIND_FEATURE_CODE, "logout"),
        ("*77*1001*", pb.CALLEE_KIND_FEATURE_CODE, "login_ext"),
        ("*77*9*", pb.CALLEE_KIND_FEATURE_CODE, "login_ext"),
        ("*77**", pb.CALLEE_KIND_OTHER, ""),
        ("*77*10a1*", pb.CALLEE_KIND_OTHER, ""),
        ("*77*1001", pb.CALLEE_KIND_OTHER, ""),
        ("*4", pb.CALLEE_KIND_OTHER, ""),
        ("*450", pb.CALLEE_KIND_OTHER, ""),
        ("1120", pb.CALLEE_KIND_OUTSIDE, ""),  # a number nobody here answers
        ("2001", pb.CALLEE_KIND_USER_FIXED, ""),  # not a hot-desk user: usrloc as usual
        ("5555", pb.CALLEE_KIND_OUTSIDE, ""),
        ("hd3002", pb.CALLEE_KIND_OTHER, ""),  # a device: usrloc as usual
        ("", pb.CALLEE_KIND_OTHER, ""),
    ],
)
async def test_callee_kinds(core: BindingCore, number: str, kind: int, feature: str) -> None:
    r = await core.route(route("hd3001", number))
    assert (r.callee_kind, r.feature) == (kind, feature)
    assert r.caller_kind == pb.CALLER_KIND_DEVICE_IDLE


async def test_non_hotdesk_and_foreign_callers_are_other(core: BindingCore) -> None:
    assert (await core.route(route("ph2001", "1001"))).caller_kind == pb.CALLER_KIND_OTHER
    assert (await core.route(route("2001", "1001"))).caller_kind == pb.CALLER_KIND_OTHER
    assert (await core.route(route("", "1001"))).caller_kind == pb.CALLER_KIND_OTHER
    foreign = await core.route(route("hd3001", "1001", domain="elsewhere.example"))
    assert (foreign.caller_kind, foreign.callee_kind) == (
        pb.CALLER_KIND_OTHER,
        pb.CALLEE_KIND_OTHER,
    )
    assert foreign.emergency_caller_id == ""


async def custom_tenant(redis: Redis) -> TenantConfig:
    t = await seed.tenant(
        redis,
        TenantConfig(
            id="fusion",
            domain="f.example",
            emergency_numbers=("999",),
            feature_codes=FeatureCodes(
                login="*072", logout="*073", login_with_extension_prefix="*78*"
            ),
        ),
    )
    await seed.device(redis, t, "f1")
    await seed.user(redis, t, "1120")
    return t


@pytest.mark.parametrize(
    ("number", "kind", "feature"),
    [
        ("*072", pb.CALLEE_KIND_FEATURE_CODE, "login"),
        ("*073", pb.CALLEE_KIND_FEATURE_CODE, "logout"),
        ("*78*1120*", pb.CALLEE_KIND_FEATURE_CODE, "login_ext"),
        ("*45", pb.CALLEE_KIND_OTHER, ""),
        ("*77*1001*", pb.CALLEE_KIND_OTHER, ""),
        ("999", pb.CALLEE_KIND_EMERGENCY, ""),
        ("112", pb.CALLEE_KIND_OUTSIDE, ""),
        ("1120", pb.CALLEE_KIND_USER_LOGGED_OUT, ""),
    ],
)
async def test_tenant_dialplans_are_per_tenant(
    redis: Redis, clock: FakeClock, number: str, kind: int, feature: str
) -> None:
    await custom_tenant(redis)
    core = await fresh_core(redis, clock)
    r = await core.route(route("f1", number, domain="f.example"))
    assert (r.callee_kind, r.feature) == (kind, feature)


@pytest.mark.parametrize(
    ("number", "kind", "feature"),
    [
        # Emergency numbers are the caller tenant's ...
        ("112", pb.CALLEE_KIND_EMERGENCY, ""),
        ("999", pb.CALLEE_KIND_OUTSIDE, ""),
        # ... feature codes and users those of the tenant dialled into.
        ("*072", pb.CALLEE_KIND_FEATURE_CODE, "login"),
        ("*45", pb.CALLEE_KIND_OTHER, ""),
        ("1120", pb.CALLEE_KIND_USER_LOGGED_OUT, ""),
        ("1001", pb.CALLEE_KIND_OUTSIDE, ""),
    ],
)
async def test_callee_in_another_domain(
    redis: Redis, acme: TenantConfig, clock: FakeClock, number: str, kind: int, feature: str
) -> None:
    await custom_tenant(redis)
    core = await fresh_core(redis, clock)
    r = await core.route(route("hd3001", number, callee_domain="f.example"))
    assert (r.caller_kind, r.callee_kind, r.feature) == (pb.CALLER_KIND_DEVICE_IDLE, kind, feature)


async def test_caller_must_be_a_device_of_the_caller_domain(redis: Redis, clock: FakeClock) -> None:
    a = await seed.tenant(redis, TenantConfig(id="a", domain="a.example", cross_tenant_group="g"))
    b = await seed.tenant(redis, TenantConfig(id="b", domain="b.example", cross_tenant_group="g"))
    await seed.device(redis, a, "ad1")
    await seed.device(redis, b, "bd1")
    core = await fresh_core(redis, clock)
    assert (await core.route(route("ad1", "1", domain="a.example"))).caller_kind == (
        pb.CALLER_KIND_DEVICE_IDLE
    )
    # Same group, same key space, but bd1 is b's device.
    assert (await core.route(route("bd1", "1", domain="a.example"))).caller_kind == (
        pb.CALLER_KIND_OTHER
    )


async def test_expired_session_routes_as_logged_out(redis: Redis, clock: FakeClock) -> None:
    t = await seed.tenant(redis, TenantConfig(id="s", domain="s.example", max_login_seconds=5))
    await seed.user(redis, t, "1001")
    await seed.device(redis, t, "s1")
    core = await fresh_core(redis, clock)
    await login(core, "s1", "1001", tenant="s")
    r = await core.route(route("s1", "1001", domain="s.example"))
    assert (r.caller_kind, r.callee_kind) == (
        pb.CALLER_KIND_DEVICE_BOUND,
        pb.CALLEE_KIND_USER_BOUND,
    )
    clock.advance(6)
    r = await core.route(route("s1", "1001", domain="s.example"))
    assert (r.caller_kind, r.callee_kind) == (
        pb.CALLER_KIND_DEVICE_IDLE,
        pb.CALLEE_KIND_USER_LOGGED_OUT,
    )


async def two_groups(redis: Redis, acme: TenantConfig, clock: FakeClock) -> BindingCore:
    beta = await seed.tenant(redis, TenantConfig(id="beta", domain="beta.example"))
    await seed.user(redis, beta, "5001", "Erin Beta")
    await seed.device(redis, beta, "bd1")
    core = await fresh_core(redis, clock)
    await login(core, "hd3001", "1001")
    await login(core, "bd1", "5001", tenant="beta")
    return core


async def test_one_round_trip_per_lookup(
    redis: Redis, acme: TenantConfig, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = await two_groups(redis, acme, clock)
    # The first lookup opens the connection lookups share (HELLO, AUTH, ...).
    await core.route(route("hd3001", "1002"))
    same_group = await traffic(redis, monkeypatch, core.route(route("hd3001", "1002")))
    assert same_group == Traffic(round_trips=1, evalsha=1, other_commands=set())
    cross = pb.RouteRequest(
        caller_user="hd3001",
        caller_domain="acme.example",
        callee_user="5001",
        callee_domain="beta.example",
    )
    # Two groups (two slots): one pipeline of two EVALSHA, nothing asked first.
    assert await traffic(redis, monkeypatch, core.route(cross)) == Traffic(1, 2, set())
    r = await core.route(cross)
    assert (r.caller_kind, r.caller_extension) == (pb.CALLER_KIND_DEVICE_BOUND, "1001")
    assert (r.callee_kind, r.callee_device, r.callee_device_domain) == (
        pb.CALLEE_KIND_USER_BOUND,
        "bd1",
        "beta.example",
    )
    special = core.route(route("hd3001", "112"))
    assert await traffic(redis, monkeypatch, special) == Traffic(1, 1, set())
    nobody = core.route(route("x", "y", domain="elsewhere.example"))
    assert await traffic(redis, monkeypatch, nobody) == Traffic(0, 0, set())


async def test_lookups_survive_a_script_cache_flush(
    redis: Redis, acme: TenantConfig, clock: FakeClock
) -> None:
    """What a Redis restart does to the scripts: NOSCRIPT, load, retry."""
    core = await two_groups(redis, acme, clock)
    cross = pb.RouteRequest(
        caller_user="hd3001",
        caller_domain="acme.example",
        callee_user="5001",
        callee_domain="beta.example",
    )
    await redis.script_flush()
    r = await core.route(cross)
    assert (r.caller_extension, r.callee_device) == ("1001", "bd1")
    await redis.script_flush()
    r = await core.route(route("hd3001", "1001"))
    assert (r.caller_extension, r.callee_device) == ("1001", "hd3001")


async def test_halves_name_what_the_edge_checks_before_reusing_them(
    core: BindingCore, redis: Redis
) -> None:
    """Each half of an answer names its route-generation field and the
    value read with it; every session change of either side moves that
    value, in the same script."""
    await login(core, "hd3001", "1001")
    await login(core, "hd3002", "1002")
    first = await core.route(route("hd3001", "1002"))
    assert first.caller_check == "hd:{acme}:routegen dev:hd3001"
    assert first.callee_check == "hd:{acme}:routegen usr:acme:1002"
    assert first.directory_version == await redis.get(keys.DIR_VERSION)
    assert (first.caller_until, first.callee_until) == ("0", "0")  # no login time limit

    def fields(r: pb.RouteResponse) -> tuple[str, str]:
        return r.caller_generation, r.callee_generation

    async def stored() -> tuple[str, str]:
        got = await redis.hmget(keys.route_generations("acme"), "dev:hd3001", "usr:acme:1002")
        return (got[0] or "", got[1] or "")

    assert fields(first) == await stored()
    seen = {fields(first)}
    changes: list[Callable[[], Awaitable[object]]] = [
        lambda: login(core, "hd3003", "1002"),  # the callee moves
        lambda: login(core, "hd3003", "1003", takeover=True),  # her desk is taken over
        lambda: login(core, "hd3002", "1002"),  # she logs in again
        lambda: core.logout_device("hd3002", reason=pb.CHANGE_REASON_LOGOUT, actor="test"),
        lambda: login(core, "hd3001", "1003", takeover=True),  # the caller's desk changes hands
    ]
    for change in changes:
        await change()
        answer = await core.route(route("hd3001", "1002"))
        assert fields(answer) == await stored()
        assert fields(answer) not in seen
        seen.add(fields(answer))


async def test_a_half_that_relies_on_an_expiring_session_says_until_when(
    redis: Redis, clock: FakeClock
) -> None:
    t = await seed.tenant(redis, TenantConfig(id="s", domain="s.example", max_login_seconds=60))
    await seed.user(redis, t, "1001")
    await seed.user(redis, t, "1002")
    await seed.device(redis, t, "x1")
    await seed.device(redis, t, "x2")
    core = await fresh_core(redis, clock)
    await login(core, "x1", "1001", tenant="s")
    await login(core, "x2", "1002", tenant="s")
    r = await core.route(route("x1", "1002", domain="s.example"))
    # Whole seconds, rounded down: never past the session's end.
    assert r.caller_until == r.callee_until == str((clock.now + 60_000) // 1000)


@pytest.mark.parametrize("number", ["112", "*45", "5555", "1999"])
async def test_no_callee_half_without_a_user(core: BindingCore, number: str) -> None:
    """Emergency calls, feature codes, outside and unknown numbers always ask."""
    r = await core.route(route("hd3001", number))
    assert r.callee_check == ""
    assert r.caller_check == "hd:{acme}:routegen dev:hd3001"
