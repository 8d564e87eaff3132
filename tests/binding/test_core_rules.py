"""The binding rules, against a real redis-server."""

import datetime as dt

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding.core import BindingCore
from services.kernel import keys
from services.kernel.errors import InvalidArgument
from services.kernel.tenants import TenantConfig
from tests.binding.conftest import events, fresh_core, login, ref
from tests.support import seed
from tests.support.clock import FakeClock


async def test_login_binds_both_sides_and_emits_event(core: BindingCore, redis: Redis) -> None:
    r = await login(core, "hd3001", "1001")
    assert r.result == pb.LOGIN_RESULT_LOGGED_IN
    assert (r.binding.extension, r.binding.display_name) == ("1001", "Alice Example")
    assert (r.binding.device_tenant, r.binding.caller_id) == ("acme", "+493012341001")
    assert r.binding.generation == 1 and r.binding.expires_unix_ms == 0
    assert await redis.hget(keys.user("acme", "acme", "1001"), "device") == "hd3001"
    assert await redis.smembers(keys.bound("acme")) == {"hd3001"}
    assert await redis.zcard(keys.expiry("acme")) == 0
    state = await core.get_by_device("hd3001")
    assert state is not None and state.binding.extension == "1001"
    by_user = await core.get_by_user(ref("1001"))
    assert by_user.known and by_user.binding.device_id == "hd3001"
    (event,) = await events(redis)
    assert event == {
        "type": "login",
        "device": "hd3001",
        "device_tenant": "acme",
        "old_user": "",
        "new_user": "acme/1001",
        "reason": "login",
        "actor": "test",
        "gen": "1",
        "ts_ms": str(r.binding.since_unix_ms),
    }


async def test_same_login_twice_changes_nothing(
    core: BindingCore, redis: Redis, clock: FakeClock
) -> None:
    first = await login(core, "hd3001", "1001")
    clock.advance(5)
    again = await login(core, "hd3001", "1001", takeover=True)
    assert again.result == pb.LOGIN_RESULT_ALREADY_LOGGED_IN
    assert again.binding == first.binding
    assert len(await events(redis)) == 1


async def test_occupied_device_needs_takeover(core: BindingCore, redis: Redis) -> None:
    await login(core, "hd3001", "1001")
    refused = await login(core, "hd3001", "1002")
    assert refused.result == pb.LOGIN_RESULT_DEVICE_OCCUPIED
    assert (refused.occupant.extension, refused.occupant.display_name) == ("1001", "Alice Example")
    assert len(await events(redis)) == 1
    taken = await login(core, "hd3001", "1002", takeover=True)
    assert taken.result == pb.LOGIN_RESULT_LOGGED_IN
    assert [(b.extension, b.device_id, b.generation) for b in taken.ended] == [
        ("1001", "hd3001", 1)
    ]
    assert taken.binding.generation == 2
    assert not (await core.get_by_user(ref("1001"))).HasField("binding")
    last = (await events(redis))[-1]
    assert (last["old_user"], last["new_user"], last["reason"], last["gen"]) == (
        "acme/1001",
        "acme/1002",
        "takeover",
        "2",
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


async def test_move_onto_an_occupied_device_ends_both_sessions(
    core: BindingCore, redis: Redis
) -> None:
    """U on D2 logs in at D1 where V is: D2 (U→"", moved), then D1 (V→U, takeover)."""
    await login(core, "hd3002", "1001")
    await login(core, "hd3001", "1002")
    r = await login(core, "hd3001", "1001", takeover=True)
    assert r.result == pb.LOGIN_RESULT_LOGGED_IN
    assert {(b.device_id, b.extension) for b in r.ended} == {("hd3002", "1001"), ("hd3001", "1002")}
    moved, taken = (await events(redis))[-2:]
    assert (moved["device"], moved["old_user"], moved["new_user"], moved["reason"]) == (
        "hd3002",
        "acme/1001",
        "",
        "moved",
    )
    assert (taken["device"], taken["old_user"], taken["new_user"], taken["reason"]) == (
        "hd3001",
        "acme/1002",
        "acme/1001",
        "takeover",
    )
    assert not (await core.get_by_user(ref("1002"))).HasField("binding")
    assert await redis.smembers(keys.bound("acme")) == {"hd3001"}


async def test_deny_policy_refuses_second_login(
    redis: Redis, clock: FakeClock, acme: TenantConfig
) -> None:
    t = await seed.tenant(
        redis, TenantConfig(id="strict", domain="strict.example", second_login="deny")
    )
    await seed.user(redis, t, "1001")
    await seed.device(redis, t, "sd1")
    await seed.device(redis, t, "sd2")
    core = await fresh_core(redis, clock)
    await login(core, "sd1", "1001", tenant="strict")
    r = await login(core, "sd2", "1001", takeover=True, tenant="strict")
    assert r.result == pb.LOGIN_RESULT_ACTIVE_ELSEWHERE
    assert (r.occupant.device_id, r.occupant.extension) == ("sd1", "1001")
    assert (await core.get_by_user(ref("1001", "strict"))).binding.device_id == "sd1"
    assert len(await events(redis, "strict")) == 1
    # The default tenant next door still moves its users.
    await login(core, "hd3001", "1001")
    assert (await login(core, "hd3002", "1001")).result == pb.LOGIN_RESULT_LOGGED_IN


async def test_only_known_hotdesk_users_on_known_hotdesk_devices(core: BindingCore) -> None:
    assert (await login(core, "hd3001", "2001")).result == pb.LOGIN_RESULT_NOT_HOTDESK_USER
    assert (await login(core, "ph2001", "1001")).result == pb.LOGIN_RESULT_NOT_HOTDESK_DEVICE
    assert (await login(core, "hd9999", "1001")).result == pb.LOGIN_RESULT_UNKNOWN_DEVICE
    assert (await login(core, "hd3001", "1999")).result == pb.LOGIN_RESULT_UNKNOWN_USER
    assert (await login(core, "hd3001", "1001", tenant="nope")).result == (
        pb.LOGIN_RESULT_UNKNOWN_USER
    )
    by_id = await core.login(
        "hd3001", pb.UserRef(hotdesk_id="nobody"), allow_takeover=False, actor=""
    )
    assert by_id.result == pb.LOGIN_RESULT_UNKNOWN_USER
    with pytest.raises(InvalidArgument):
        await core.login("hd3001", pb.UserRef(tenant="acme"), allow_takeover=False, actor="t")
    with pytest.raises(InvalidArgument):
        await core.login("", ref("1001"), allow_takeover=False, actor="t")


async def test_cross_tenant_only_inside_a_shared_group(redis: Redis, clock: FakeClock) -> None:
    a = await seed.tenant(redis, TenantConfig(id="a", domain="a.example", cross_tenant_group="g"))
    b = await seed.tenant(redis, TenantConfig(id="b", domain="b.example", cross_tenant_group="g"))
    c = await seed.tenant(redis, TenantConfig(id="c", domain="c.example"))
    await seed.user(redis, a, "1001", hotdesk_id="alice")
    await seed.user(redis, a, "1002")
    await seed.user(redis, c, "1001", hotdesk_id="carl")
    await seed.device(redis, b, "bd1")
    await seed.device(redis, b, "bd2")
    core = await fresh_core(redis, clock)
    ok = await core.login("bd1", pb.UserRef(hotdesk_id="alice"), allow_takeover=False, actor="t")
    assert ok.result == pb.LOGIN_RESULT_LOGGED_IN
    assert (ok.binding.tenant, ok.binding.device_tenant) == ("a", "b")
    assert (await login(core, "bd2", "1002", tenant="a")).result == pb.LOGIN_RESULT_LOGGED_IN
    denied = await core.login("bd1", pb.UserRef(hotdesk_id="carl"), allow_takeover=True, actor="t")
    assert denied.result == pb.LOGIN_RESULT_CROSS_TENANT_DENIED
    assert (await login(core, "bd1", "1001", tenant="c")).result == (
        pb.LOGIN_RESULT_CROSS_TENANT_DENIED
    )
    assert (await login(core, "bd1", "4040", tenant="c")).result == pb.LOGIN_RESULT_UNKNOWN_USER
    (event, _) = await events(redis, "g")
    assert (event["device"], event["device_tenant"], event["new_user"]) == ("bd1", "b", "a/1001")


async def test_logout_by_device_and_by_user(core: BindingCore, redis: Redis) -> None:
    await login(core, "hd3001", "1001")
    r = await core.logout_user(ref("1001"), reason=pb.CHANGE_REASON_LOGOUT, actor="t")
    assert r.result == pb.LOGOUT_RESULT_LOGGED_OUT
    assert (r.ended.device_id, r.ended.device_tenant, r.ended.extension) == (
        "hd3001",
        "acme",
        "1001",
    )
    again = await core.logout_device("hd3001", reason=pb.CHANGE_REASON_OPERATOR, actor="t")
    assert again.result == pb.LOGOUT_RESULT_NOT_LOGGED_IN
    not_in = await core.logout_user(ref("1002"), reason=pb.CHANGE_REASON_LOGOUT, actor="t")
    assert not_in.result == pb.LOGOUT_RESULT_NOT_LOGGED_IN
    for unknown in (
        await core.logout_device("zz", reason=pb.CHANGE_REASON_OPERATOR, actor="t"),
        await core.logout_user(ref("4040"), reason=pb.CHANGE_REASON_OPERATOR, actor="t"),
        await core.logout_user(ref("1001", "nope"), reason=pb.CHANGE_REASON_OPERATOR, actor="t"),
    ):
        assert unknown.result == pb.LOGOUT_RESULT_UNKNOWN
    assert await redis.scard(keys.bound("acme")) == 0
    assert [e["reason"] for e in await events(redis)] == ["login", "logout"]


async def test_directory_removal_reason_is_recorded(core: BindingCore, redis: Redis) -> None:
    await login(core, "hd3001", "1001")
    await login(core, "hd3002", "1002")
    await core.logout_device("hd3001", reason=pb.CHANGE_REASON_DIRECTORY, actor="directory-import")
    await core.logout_user(ref("1002"), reason=pb.CHANGE_REASON_DIRECTORY, actor="directory-import")
    removed = (await events(redis))[-2:]
    assert [(e["device"], e["reason"], e["actor"]) for e in removed] == [
        ("hd3001", "directory", "directory-import"),
        ("hd3002", "directory", "directory-import"),
    ]


async def test_list_and_get(core: BindingCore) -> None:
    await login(core, "hd3002", "1002")
    bound = await core.list(None, include_idle=False)
    assert [(d.device_id, d.binding.extension) for d in bound.devices] == [("hd3002", "1002")]
    every = await core.list("acme", include_idle=True)
    assert [d.device_id for d in every.devices] == ["hd3001", "hd3002", "hd3003", "ph2001"]
    assert (await core.list("nope", include_idle=True)).devices == []
    assert await core.get_by_device("nope") is None
    assert (await core.get_by_user(ref("1001"))) == pb.GetByUserResponse(known=True)
    assert (await core.get_by_user(ref("4040"))) == pb.GetByUserResponse(known=False)


# -- expiry ------------------------------------------------------------------


async def _short(redis: Redis, **policy: object) -> TenantConfig:
    t = await seed.tenant(
        redis, TenantConfig.model_validate({"id": "s", "domain": "s.example", **policy})
    )
    await seed.user(redis, t, "1001")
    await seed.user(redis, t, "1002")
    await seed.device(redis, t, "x1")
    await seed.device(redis, t, "x2")
    return t


async def test_max_login_time_expires_sessions(redis: Redis, clock: FakeClock) -> None:
    await _short(redis, max_login_seconds=60)
    core = await fresh_core(redis, clock)
    r = await login(core, "x1", "1001", tenant="s")
    assert r.binding.expires_unix_ms == clock.now + 60_000
    assert await redis.zscore(keys.expiry("s"), "x1") == clock.now + 60_000
    clock.advance(59)
    assert await core.expire_due() == []
    clock.advance(2)
    # Reads treat it as over even before the sweeper ran.
    state = await core.get_by_device("x1")
    assert state is not None and not state.HasField("binding")
    assert (await core.get_by_user(ref("1001", "s"))) == pb.GetByUserResponse(known=True)
    assert (await core.list("s", include_idle=False)).devices == []
    (ended,) = await core.expire_due()
    assert (ended.device_id, ended.extension) == ("x1", "1001")
    assert (await events(redis, "s"))[-1]["reason"] == "expired"
    assert await redis.zcard(keys.expiry("s")) == 0
    assert await core.expire_due() == []


async def test_daily_logout_time_in_tenant_timezone(redis: Redis, clock: FakeClock) -> None:
    await _short(redis, daily_logout="23:00", timezone="Europe/Berlin")
    # 2027-01-15 21:30 UTC = 22:30 in Berlin (CET): logout due at 22:00 UTC.
    clock.now = int(dt.datetime(2027, 1, 15, 21, 30, tzinfo=dt.UTC).timestamp() * 1000)
    core = await fresh_core(redis, clock)
    r = await login(core, "x1", "1001", tenant="s")
    due = int(dt.datetime(2027, 1, 15, 22, 0, tzinfo=dt.UTC).timestamp() * 1000)
    assert r.binding.expires_unix_ms == due
    clock.now = due - 1
    assert await core.expire_due() == []
    clock.now = due
    assert [b.device_id for b in await core.expire_due()] == ["x1"]


async def test_login_and_logout_end_expired_sessions_they_touch(
    redis: Redis, clock: FakeClock
) -> None:
    await _short(redis, max_login_seconds=10)
    core = await fresh_core(redis, clock)
    await login(core, "x1", "1001", tenant="s")
    await login(core, "x2", "1002", tenant="s")
    clock.advance(11)
    # x1's occupant has expired: no takeover needed, and its end is recorded.
    r = await login(core, "x1", "1002", tenant="s")
    assert r.result == pb.LOGIN_RESULT_LOGGED_IN
    assert {(b.device_id, b.extension) for b in r.ended} == {("x1", "1001"), ("x2", "1002")}
    assert [(e["device"], e["reason"], e["old_user"]) for e in (await events(redis, "s"))[2:]] == [
        ("x1", "expired", "s/1001"),
        ("x2", "expired", "s/1002"),
        ("x1", "login", ""),
    ]
    clock.advance(11)
    out = await core.logout_device("x1", reason=pb.CHANGE_REASON_LOGOUT, actor="t")
    assert out.result == pb.LOGOUT_RESULT_NOT_LOGGED_IN
    assert (await events(redis, "s"))[-1]["reason"] == "expired"
    assert await redis.scard(keys.bound("s")) == 0


async def test_expired_session_is_ended_by_a_new_core(redis: Redis, clock: FakeClock) -> None:
    """State is all in Redis: a fresh core expires what came due."""
    await _short(redis, max_login_seconds=10)
    await login(await fresh_core(redis, clock), "x1", "1001", tenant="s")
    clock.advance(11)
    assert [b.device_id for b in await (await fresh_core(redis, clock)).expire_due()] == ["x1"]


async def test_expire_due_works_through_many_sessions_in_batches(
    redis: Redis, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = await seed.tenant(redis, TenantConfig(id="s", domain="s.example", max_login_seconds=10))
    for i in range(5):
        await seed.user(redis, t, f"100{i}")
        await seed.device(redis, t, f"x{i}")
    core = await fresh_core(redis, clock)
    for i in range(5):
        await login(core, f"x{i}", f"100{i}", tenant="s")
    await redis.zadd(keys.expiry("s"), {"gone": 1})  # a stale index entry
    monkeypatch.setattr("services.binding.core._EXPIRE_BATCH", 2)
    clock.advance(11)
    assert sorted(b.device_id for b in await core.expire_due()) == [f"x{i}" for i in range(5)]
    assert await redis.zcard(keys.expiry("s")) == 0


async def test_a_stale_user_pointer_never_ends_another_users_session(
    core: BindingCore, redis: Redis
) -> None:
    """Should the user side ever point at a device someone else is on (not
    something the scripts produce), logins and logouts leave that session be."""
    await login(core, "hd3001", "1001")
    await redis.hset(keys.user("acme", "acme", "1002"), "device", "hd3001")
    out = await core.logout_user(ref("1002"), reason=pb.CHANGE_REASON_LOGOUT, actor="t")
    assert out.result == pb.LOGOUT_RESULT_NOT_LOGGED_IN
    moved = await login(core, "hd3002", "1002")
    assert (moved.result, list(moved.ended)) == (pb.LOGIN_RESULT_LOGGED_IN, [])
    hd3001 = await core.get_by_device("hd3001")
    assert hd3001 is not None and hd3001.binding.extension == "1001"
