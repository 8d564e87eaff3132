"""The binding rules, against a real redis-server."""

import datetime as dt

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding.core import BindingCore
from services.kernel import keys
from services.kernel.tenants import TenantConfig
from tests.binding.conftest import fresh_core
from tests.support import seed
from tests.support.clock import FakeClock


def ref(ext: str, tenant: str = "acme") -> pb.UserRef:
    return pb.UserRef(tenant=tenant, extension=ext)


async def login(
    core: BindingCore, device: str, ext: str, takeover: bool = False, tenant: str = "acme"
) -> pb.LoginResponse:
    return await core.login(device, ref(ext, tenant), allow_takeover=takeover, actor="test")


async def events(redis: Redis, group: str = "acme") -> list[dict[str, str]]:
    return [fields for _, fields in await redis.xrange(keys.events(group))]


async def test_login_binds_both_sides_and_emits_event(core: BindingCore, redis: Redis) -> None:
    r = await login(core, "hd3001", "1001")
    assert r.result == pb.LOGIN_RESULT_LOGGED_IN
    assert (r.binding.extension, r.binding.display_name) == ("1001", "Alice Example")
    assert r.binding.generation == 1
    state = await core.get_by_device("hd3001")
    assert state is not None and state.binding.extension == "1001"
    by_user = await core.get_by_user(ref("1001"))
    assert by_user.known and by_user.binding.device_id == "hd3001"
    (event,) = await events(redis)
    assert event["type"] == "login" and event["new_user"] == "acme/1001"
    assert event["old_user"] == "" and event["reason"] == "login" and event["gen"] == "1"


async def test_same_login_twice_changes_nothing(core: BindingCore, redis: Redis) -> None:
    await login(core, "hd3001", "1001")
    r = await login(core, "hd3001", "1001")
    assert r.result == pb.LOGIN_RESULT_ALREADY_LOGGED_IN
    assert len(await events(redis)) == 1


async def test_occupied_device_needs_takeover(core: BindingCore, redis: Redis) -> None:
    await login(core, "hd3001", "1001")
    refused = await login(core, "hd3001", "1002")
    assert refused.result == pb.LOGIN_RESULT_DEVICE_OCCUPIED
    assert refused.occupant.extension == "1001"
    taken = await login(core, "hd3001", "1002", takeover=True)
    assert taken.result == pb.LOGIN_RESULT_LOGGED_IN
    assert [(b.extension, b.device_id) for b in taken.ended] == [("1001", "hd3001")]
    assert not (await core.get_by_user(ref("1001"))).HasField("binding")
    last = (await events(redis))[-1]
    assert (last["old_user"], last["new_user"], last["reason"]) == (
        "acme/1001",
        "acme/1002",
        "takeover",
    )


async def test_second_login_moves_the_user_by_default(core: BindingCore, redis: Redis) -> None:
    await login(core, "hd3001", "1001")
    r = await login(core, "hd3002", "1001")
    assert r.result == pb.LOGIN_RESULT_LOGGED_IN
    assert [b.device_id for b in r.ended] == ["hd3001"]
    first = await core.get_by_device("hd3001")
    assert first is not None and not first.HasField("binding")
    moved, logged_in = (await events(redis))[-2:]
    assert (moved["device"], moved["reason"], moved["type"]) == ("hd3001", "moved", "logout")
    assert (logged_in["device"], logged_in["reason"]) == ("hd3002", "login")


async def test_deny_policy_refuses_second_login(redis: Redis, clock: FakeClock) -> None:
    t = await seed.tenant(
        redis, TenantConfig(id="strict", domain="strict.example", second_login="deny")
    )
    await seed.user(redis, t, "1001")
    await seed.device(redis, t, "sd1")
    await seed.device(redis, t, "sd2")
    core = await fresh_core(redis, clock)
    await login(core, "sd1", "1001", tenant="strict")
    r = await login(core, "sd2", "1001", tenant="strict")
    assert r.result == pb.LOGIN_RESULT_ACTIVE_ELSEWHERE
    assert r.occupant.device_id == "sd1"
    assert (await core.get_by_user(ref("1001", "strict"))).binding.device_id == "sd1"


async def test_only_hotdesk_users_on_hotdesk_devices(core: BindingCore) -> None:
    assert (await login(core, "hd3001", "2001")).result == pb.LOGIN_RESULT_NOT_HOTDESK_USER
    assert (await login(core, "ph2001", "1001")).result == pb.LOGIN_RESULT_NOT_HOTDESK_DEVICE
    assert (await login(core, "hd9999", "1001")).result == pb.LOGIN_RESULT_UNKNOWN_DEVICE
    assert (await login(core, "hd3001", "1999")).result == pb.LOGIN_RESULT_UNKNOWN_USER
    assert (await login(core, "hd3001", "1001", tenant="nope")).result == (
        pb.LOGIN_RESULT_UNKNOWN_USER
    )


async def test_cross_tenant_only_inside_a_shared_group(redis: Redis, clock: FakeClock) -> None:
    a = await seed.tenant(redis, TenantConfig(id="a", domain="a.example", cross_tenant_group="g"))
    b = await seed.tenant(redis, TenantConfig(id="b", domain="b.example", cross_tenant_group="g"))
    c = await seed.tenant(redis, TenantConfig(id="c", domain="c.example"))
    await seed.user(redis, a, "1001", hotdesk_id="alice")
    await seed.user(redis, c, "1001", hotdesk_id="carl")
    await seed.device(redis, b, "bd1")
    core = await fresh_core(redis, clock)
    ok = await core.login("bd1", pb.UserRef(hotdesk_id="alice"), allow_takeover=False, actor="t")
    assert ok.result == pb.LOGIN_RESULT_LOGGED_IN
    assert (ok.binding.tenant, ok.binding.device_tenant) == ("a", "b")
    denied = await core.login("bd1", pb.UserRef(hotdesk_id="carl"), allow_takeover=True, actor="t")
    assert denied.result == pb.LOGIN_RESULT_CROSS_TENANT_DENIED
    route = await core.route(
        pb.RouteRequest(
            caller_user="bd1",
            caller_domain="b.example",
            callee_user="1001",
            callee_domain="a.example",
        )
    )
    assert route.caller_kind == pb.CALLER_KIND_DEVICE_BOUND and route.caller_tenant == "a"
    assert route.callee_kind == pb.CALLEE_KIND_USER_BOUND
    assert (route.callee_device, route.callee_device_domain) == ("bd1", "b.example")


async def test_logout_by_device_and_by_user(core: BindingCore, redis: Redis) -> None:
    await login(core, "hd3001", "1001")
    r = await core.logout_user(ref("1001"), reason=pb.CHANGE_REASON_LOGOUT, actor="t")
    assert r.result == pb.LOGOUT_RESULT_LOGGED_OUT and r.ended.device_id == "hd3001"
    again = await core.logout_device("hd3001", reason=pb.CHANGE_REASON_OPERATOR, actor="t")
    assert again.result == pb.LOGOUT_RESULT_NOT_LOGGED_IN
    unknown = await core.logout_device("zz", reason=pb.CHANGE_REASON_OPERATOR, actor="t")
    assert unknown.result == pb.LOGOUT_RESULT_UNKNOWN
    assert await redis.scard(keys.bound("acme")) == 0
    assert (await events(redis))[-1]["reason"] == "logout"


async def test_max_login_time_expires_sessions(redis: Redis, clock: FakeClock) -> None:
    t = await seed.tenant(redis, TenantConfig(id="short", domain="s.example", max_login_seconds=60))
    await seed.user(redis, t, "1001")
    await seed.device(redis, t, "x1")
    core = await fresh_core(redis, clock)
    r = await login(core, "x1", "1001", tenant="short")
    assert r.binding.expires_unix_ms == clock.now + 60_000
    clock.advance(59)
    assert await core.expire_due() == []
    clock.advance(2)
    # Reads treat it as over even before the sweeper ran.
    state = await core.get_by_device("x1")
    assert state is not None and not state.HasField("binding")
    (ended,) = await core.expire_due()
    assert ended.device_id == "x1"
    assert (await events(redis, "short"))[-1]["reason"] == "expired"
    assert await core.expire_due() == []


async def test_daily_logout_time_in_tenant_timezone(redis: Redis, clock: FakeClock) -> None:
    t = await seed.tenant(
        redis,
        TenantConfig(
            id="night", domain="n.example", daily_logout="23:00", timezone="Europe/Berlin"
        ),
    )
    await seed.user(redis, t, "1001")
    await seed.device(redis, t, "n1")
    # 2027-01-15 21:30 UTC = 22:30 in Berlin (CET): logout due at 22:00 UTC.
    clock.now = int(dt.datetime(2027, 1, 15, 21, 30, tzinfo=dt.UTC).timestamp() * 1000)
    core = await fresh_core(redis, clock)
    r = await login(core, "n1", "1001", tenant="night")
    assert r.binding.expires_unix_ms == int(
        dt.datetime(2027, 1, 15, 22, 0, tzinfo=dt.UTC).timestamp() * 1000
    )


async def test_expired_session_is_ended_by_a_new_core(redis: Redis, clock: FakeClock) -> None:
    """State is all in Redis: a restarted service expires what came due."""
    t = await seed.tenant(redis, TenantConfig(id="short", domain="s.example", max_login_seconds=10))
    await seed.user(redis, t, "1001")
    await seed.device(redis, t, "x1")
    await login(await fresh_core(redis, clock), "x1", "1001", tenant="short")
    clock.advance(11)
    restarted = await fresh_core(redis, clock)
    assert [b.device_id for b in await restarted.expire_due()] == ["x1"]
