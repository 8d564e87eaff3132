"""PIN checks, backoff and lockout, audit: real Redis, controlled clock."""

import logging

import pytest
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as pb
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.auth.core import AuthCore, NotFound, PinPolicyError
from services.kernel import keys
from tests.auth.conftest import MakeCore
from tests.support.clock import FakeClock


def alice() -> pb.UserRef:
    return pb.UserRef(tenant="acme", extension="1001")


async def attempt(
    core: AuthCore, pin: str, device: str = "hd3001", user: pb.UserRef | None = None
) -> apb.VerifyPinResponse:
    return await core.verify_pin(user or alice(), device, pin, "test")


async def test_pin_results(make_core: MakeCore) -> None:
    core = await make_core()
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK
    wrong = await attempt(core, "4712")
    assert (wrong.result, wrong.attempts_left) == (apb.PIN_RESULT_WRONG_PIN, 2)
    nobody = pb.UserRef(tenant="acme", extension="1999")
    assert (await attempt(core, "4711", user=nobody)).result == apb.PIN_RESULT_UNKNOWN_USER
    no_pin = pb.UserRef(tenant="acme", extension="1004")
    assert (await attempt(core, "4711", user=no_pin)).result == apb.PIN_RESULT_NO_PIN
    assert (await attempt(core, "4711", device="zz")).result == apb.PIN_RESULT_UNKNOWN_DEVICE


async def test_backoff_grows_then_locks(make_core: MakeCore, clock: FakeClock) -> None:
    core = await make_core()
    assert (await attempt(core, "0000")).retry_after_seconds == 0
    assert (await attempt(core, "0000")).retry_after_seconds == 0
    third = await attempt(core, "0000")
    assert (third.result, third.retry_after_seconds, third.attempts_left) == (
        apb.PIN_RESULT_WRONG_PIN,
        30,
        0,
    )
    # While backing off, even the right PIN is not tested.
    held = await attempt(core, "4711")
    assert (held.result, held.retry_after_seconds) == (apb.PIN_RESULT_BACKOFF, 30)
    waits = []
    for _ in range(2):
        clock.advance(1000)
        waits.append((await attempt(core, "0000")).retry_after_seconds)
    assert waits == [60, 120]
    clock.advance(1000)
    locked = await attempt(core, "0000")
    assert (locked.result, locked.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 3600)
    clock.advance(1000)
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_LOCKED
    clock.advance(2700)
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK


async def test_lock_until_operator_unlocks(make_core: MakeCore, clock: FakeClock) -> None:
    core = await make_core(lock_seconds=0, free_attempts=1, lock_after=2)
    await attempt(core, "0000")
    clock.advance(60)
    locked = await attempt(core, "0000")
    assert (locked.result, locked.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 0)
    clock.advance(10 * 86400)
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_LOCKED
    assert await core.unlock(alice(), "", "operator:test") == 1
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK


async def test_stranger_at_one_desk_cannot_lock_user_elsewhere(
    make_core: MakeCore, clock: FakeClock
) -> None:
    core = await make_core()
    for _ in range(8):
        await attempt(core, "0000", device="hd3001")
        clock.advance(1000)
    assert (await attempt(core, "4711", device="hd3001")).result == apb.PIN_RESULT_LOCKED
    assert (await attempt(core, "4711", device="hd3002")).result == apb.PIN_RESULT_OK


async def test_one_phone_guessing_many_users_is_locked(make_core: MakeCore) -> None:
    core = await make_core(device_max_failures=5)
    for ext in ("1001", "1002", "1003", "1001", "1002"):
        await attempt(core, "0000", user=pb.UserRef(tenant="acme", extension=ext))
    bob = pb.UserRef(tenant="acme", extension="1003")
    blocked = await attempt(core, "5173", device="hd3001", user=bob)
    assert (blocked.result, blocked.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 900)
    assert (await attempt(core, "5173", device="hd3002", user=bob)).result == apb.PIN_RESULT_OK
    assert await core.unlock(None, "hd3001", "operator:test") == 1
    assert (await attempt(core, "5173", device="hd3001", user=bob)).result == apb.PIN_RESULT_OK


async def test_success_resets_the_user_device_counter(make_core: MakeCore) -> None:
    core = await make_core()
    await attempt(core, "0000")
    await attempt(core, "0000")
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK
    assert (await attempt(core, "0000")).attempts_left == 2


async def test_counters_forget_after_the_window(make_core: MakeCore) -> None:
    """Redis expires the counters in real time: a 1 s window, a real wait."""
    import asyncio

    core = await make_core(failure_window_seconds=1, free_attempts=5)
    await attempt(core, "0000")
    assert (await attempt(core, "0000")).attempts_left == 3
    await asyncio.sleep(1.2)
    assert (await attempt(core, "0000")).attempts_left == 4


async def test_every_attempt_is_audited_without_the_pin(
    make_core: MakeCore, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    core = await make_core()
    caplog.set_level(logging.INFO)
    before = (
        REGISTRY.get_sample_value(
            "hotdesk_auth_pin_attempts_total", {"result": "wrong_pin", "channel": "test"}
        )
        or 0
    )
    await attempt(core, "9753")
    await attempt(core, "4711")
    await core.unlock(alice(), "hd3001", "operator:ann")
    entries = [e for _, e in await redis.xrange(keys.audit("acme"))]
    assert [(e["event"], e.get("result", "")) for e in entries] == [
        ("pin_attempt", "wrong_pin"),
        ("pin_attempt", "ok"),
        ("unlock", ""),
    ]
    assert entries[0]["device"] == "hd3001" and entries[0]["extension"] == "1001"
    assert entries[2]["actor"] == "operator:ann"
    dump = repr(entries) + caplog.text
    assert "9753" not in dump and "4711" not in dump
    assert "pin_attempt" in caplog.text
    after = REGISTRY.get_sample_value(
        "hotdesk_auth_pin_attempts_total", {"result": "wrong_pin", "channel": "test"}
    )
    assert after == before + 1


async def test_set_pin_applies_policy_and_stores_argon2id(
    make_core: MakeCore, redis: Redis
) -> None:
    core = await make_core()
    with pytest.raises(PinPolicyError, match="consecutive"):
        await core.set_pin(alice(), "2345", "operator:t")
    with pytest.raises(PinPolicyError, match="own extension"):
        await core.set_pin(alice(), "1001", "operator:t")
    with pytest.raises(NotFound):
        await core.set_pin(pb.UserRef(tenant="acme", extension="1999"), "9731", "operator:t")
    await core.set_pin(alice(), "9731", "operator:t")
    stored = await redis.get(keys.pin("acme", "acme", "1001"))
    assert stored.startswith("$argon2id$") and "9731" not in stored
    assert (await attempt(core, "9731")).result == apb.PIN_RESULT_OK
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_WRONG_PIN


async def test_login_with_pin_binds_only_on_the_right_pin(make_core: MakeCore) -> None:
    core = await make_core()
    wrong = await core.login_with_pin(
        apb.LoginWithPinRequest(user=alice(), device_id="hd3001", pin="0000", channel="voice-menu")
    )
    assert wrong.pin.result == apb.PIN_RESULT_WRONG_PIN and not wrong.HasField("login")
    ok = await core.login_with_pin(
        apb.LoginWithPinRequest(user=alice(), device_id="hd3001", pin="4711", channel="voice-menu")
    )
    assert ok.pin.result == apb.PIN_RESULT_OK
    assert ok.login.result == pb.LOGIN_RESULT_LOGGED_IN
    assert ok.login.binding.device_id == "hd3001"
