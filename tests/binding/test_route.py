"""Kamailio's lookup: every caller and callee kind."""

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding.core import BindingCore
from services.kernel.tenants import FeatureCodes, TenantConfig
from tests.binding.conftest import fresh_core
from tests.support import seed
from tests.support.clock import FakeClock


def route(caller: str, callee: str, domain: str = "acme.example") -> pb.RouteRequest:
    return pb.RouteRequest(
        caller_user=caller, caller_domain=domain, callee_user=callee, callee_domain=domain
    )


async def test_bound_device_calls_bound_user(core: BindingCore) -> None:
    await core.login(
        "hd3001", pb.UserRef(tenant="acme", extension="1001"), allow_takeover=False, actor="t"
    )
    await core.login(
        "hd3002", pb.UserRef(tenant="acme", extension="1002"), allow_takeover=False, actor="t"
    )
    r = await core.route(route("hd3001", "1002"))
    assert r.caller_kind == pb.CALLER_KIND_DEVICE_BOUND
    assert (r.caller_extension, r.caller_display_name) == ("1001", "Alice Example")
    assert r.caller_id == "+493012341001"
    assert r.emergency_caller_id == "+4930123450000"
    assert r.callee_kind == pb.CALLEE_KIND_USER_BOUND
    assert (r.callee_device, r.callee_device_domain) == ("hd3002", "acme.example")


async def test_idle_device_and_logged_out_user(core: BindingCore) -> None:
    r = await core.route(route("hd3001", "1002"))
    assert r.caller_kind == pb.CALLER_KIND_DEVICE_IDLE
    assert r.emergency_caller_id == "+4930123450000"
    assert r.caller_extension == ""
    assert r.callee_kind == pb.CALLEE_KIND_USER_LOGGED_OUT


@pytest.mark.parametrize(
    ("number", "kind", "feature"),
    [
        ("112", pb.CALLEE_KIND_EMERGENCY, ""),
        ("911", pb.CALLEE_KIND_EMERGENCY, ""),
        ("*45", pb.CALLEE_KIND_FEATURE_CODE, "login"),
        ("*46", pb.CALLEE_KIND_FEATURE_CODE, "logout"),
        ("*77*1001*", pb.CALLEE_KIND_FEATURE_CODE, "login_ext"),
        ("*77**", pb.CALLEE_KIND_OTHER, ""),
        ("*4", pb.CALLEE_KIND_OTHER, ""),
        ("2001", pb.CALLEE_KIND_OTHER, ""),  # not a hot-desk user: usrloc as usual
        ("5555", pb.CALLEE_KIND_OTHER, ""),  # unknown: usrloc as usual
    ],
)
async def test_callee_kinds(core: BindingCore, number: str, kind: int, feature: str) -> None:
    r = await core.route(route("hd3001", number))
    assert (r.callee_kind, r.feature) == (kind, feature)
    assert r.caller_kind == pb.CALLER_KIND_DEVICE_IDLE


async def test_non_hotdesk_and_foreign_callers_are_other(core: BindingCore) -> None:
    assert (await core.route(route("ph2001", "1001"))).caller_kind == pb.CALLER_KIND_OTHER
    assert (await core.route(route("2001", "1001"))).caller_kind == pb.CALLER_KIND_OTHER
    foreign = await core.route(route("hd3001", "1001", domain="elsewhere.example"))
    assert (foreign.caller_kind, foreign.callee_kind) == (
        pb.CALLER_KIND_OTHER,
        pb.CALLEE_KIND_OTHER,
    )


async def test_tenant_feature_codes_are_per_tenant(redis: Redis, clock: FakeClock) -> None:
    custom = await seed.tenant(
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
    await seed.device(redis, custom, "f1")
    core = await fresh_core(redis, clock)
    r = await core.route(route("f1", "*072", domain="f.example"))
    assert (r.callee_kind, r.feature) == (pb.CALLEE_KIND_FEATURE_CODE, "login")
    assert (await core.route(route("f1", "*45", domain="f.example"))).callee_kind == (
        pb.CALLEE_KIND_OTHER
    )
    assert (await core.route(route("f1", "999", domain="f.example"))).callee_kind == (
        pb.CALLEE_KIND_EMERGENCY
    )
    assert (await core.route(route("f1", "112", domain="f.example"))).callee_kind == (
        pb.CALLEE_KIND_OTHER
    )


async def test_expired_session_routes_as_logged_out(redis: Redis, clock: FakeClock) -> None:
    t = await seed.tenant(redis, TenantConfig(id="s", domain="s.example", max_login_seconds=5))
    await seed.user(redis, t, "1001")
    await seed.device(redis, t, "s1")
    core = await fresh_core(redis, clock)
    await core.login(
        "s1", pb.UserRef(tenant="s", extension="1001"), allow_takeover=False, actor="t"
    )
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
