"""PIN checks, backoff and lockout, audit and metrics: real Redis, the
controlled clock."""

import asyncio
import logging

import pytest
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import binding_pb2 as pb
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.auth.core import UNKNOWN, AuthCore
from services.auth.errors import PinPolicyError
from services.kernel import keys
from services.kernel.errors import InvalidArgument, NotFound
from tests.auth.conftest import MakeCore
from tests.support.clock import FakeClock

WRONG = "0000"


def user(ext: str = "1001", tenant: str = "acme") -> pb.UserRef:
    return pb.UserRef(tenant=tenant, extension=ext)


async def attempt(
    core: AuthCore, pin: str, device: str = "hd3001", who: pb.UserRef | None = None
) -> apb.VerifyPinResponse:
    return await core.verify_pin(who or user(), device, pin, "voice-menu")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """What the captured log lines say: events and their structured fields
    (not their timestamps, whose digits could spell a PIN by chance)."""
    return "\n".join(f"{r.getMessage()} {vars(r).get('fields')}" for r in caplog.records)


def verifies() -> float:
    """How many PINs (real or decoy) argon2 has tested so far."""
    return sample("hotdesk_auth_pin_verify_seconds_count")


async def test_pin_results(make_core: MakeCore) -> None:
    core = await make_core()
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK
    wrong = await attempt(core, WRONG)
    assert (wrong.result, wrong.attempts_left) == (apb.PIN_RESULT_WRONG_PIN, 2)
    by_hotdesk_id = pb.UserRef(hotdesk_id="alice")
    assert (await attempt(core, "4711", who=by_hotdesk_id)).result == apb.PIN_RESULT_OK
    # Every kind of unknown gets the one same answer: no such user, a user
    # of another group (no login could follow, even with the right PIN), a
    # user without a PIN, no such device.
    globex = user("2001", "globex")
    unknowns = [
        await attempt(core, "4711", who=nobody)
        for nobody in (user("1999"), user("1001", "initech"), pb.UserRef(hotdesk_id="zed"))
    ]
    unknowns += [
        await attempt(core, "6047", who=globex),
        await attempt(core, "4711", who=user("1004")),
        await attempt(core, "4711", device="zz"),
    ]
    assert all(u == UNKNOWN for u in unknowns), unknowns
    assert (await attempt(core, "6047", "hd4001", globex)).result == apb.PIN_RESULT_OK


@pytest.mark.parametrize(
    ("who", "device", "pin", "why"),
    [
        (user(), "", "4711", "device_id"),
        (user(), "hd3001", "", "pin"),
        (pb.UserRef(tenant="acme"), "hd3001", "4711", "tenant and extension"),
        (pb.UserRef(), "hd3001", "4711", "tenant and extension"),
    ],
)
async def test_malformed_attempts_are_rejected(
    make_core: MakeCore, who: pb.UserRef, device: str, pin: str, why: str
) -> None:
    core = await make_core()
    with pytest.raises(InvalidArgument, match=why):
        await core.verify_pin(who, device, pin, "api")


async def test_unknown_users_cost_a_verify_and_count_against_the_device(
    make_core: MakeCore,
) -> None:
    core = await make_core(device_max_failures=3)
    before = verifies()
    for who in (user("1998"), user("1004"), user("1999")):  # unknown, no PIN, unknown
        await attempt(core, "4711", who=who)
    assert verifies() == before + 3
    refused = await attempt(core, "4711")
    assert (refused.result, refused.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 900)


async def test_backoff_grows_then_locks(make_core: MakeCore, clock: FakeClock) -> None:
    core = await make_core()
    assert (await attempt(core, WRONG)).retry_after_seconds == 0
    assert (await attempt(core, WRONG)).retry_after_seconds == 0
    third = await attempt(core, WRONG)
    assert (third.result, third.retry_after_seconds, third.attempts_left) == (
        apb.PIN_RESULT_WRONG_PIN,
        30,
        0,
    )
    # While backing off, not even the right PIN is tested.
    before = verifies()
    held = await attempt(core, "4711")
    assert (held.result, held.retry_after_seconds) == (apb.PIN_RESULT_BACKOFF, 30)
    clock.advance(29)
    assert (await attempt(core, "4711")).retry_after_seconds == 1
    assert verifies() == before
    clock.advance(1)  # the 30 s are over: each failure doubles the wait
    assert (await attempt(core, WRONG)).retry_after_seconds == 60
    clock.advance(60)
    assert (await attempt(core, WRONG)).retry_after_seconds == 120
    clock.advance(120)
    locked = await attempt(core, WRONG)
    assert (locked.result, locked.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 3600)
    clock.advance(1800)
    before = verifies()
    refused = await attempt(core, "4711")
    assert (refused.result, refused.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 1800)
    assert verifies() == before
    clock.advance(1800)
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK


async def test_backoff_is_capped(make_core: MakeCore, clock: FakeClock) -> None:
    core = await make_core(free_attempts=1, backoff_max_seconds=100, lock_after=10)
    waits: list[int] = []
    for _ in range(5):
        waits.append((await attempt(core, WRONG)).retry_after_seconds)
        clock.advance(waits[-1])
    assert waits == [30, 60, 100, 100, 100]


async def test_lock_until_operator_unlocks(make_core: MakeCore, clock: FakeClock) -> None:
    core = await make_core(lock_seconds=0, free_attempts=1, lock_after=2)
    await attempt(core, WRONG)
    clock.advance(60)
    locked = await attempt(core, WRONG)
    assert (locked.result, locked.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 0)
    clock.advance(10 * 86400)
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_LOCKED
    assert await core.unlock(user(), "", "operator:test") == 1
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK


async def test_stranger_at_one_desk_cannot_lock_user_elsewhere(
    make_core: MakeCore, clock: FakeClock
) -> None:
    core = await make_core()
    for _ in range(8):
        await attempt(core, WRONG, device="hd3001")
        clock.advance(1000)
    assert (await attempt(core, "4711", device="hd3001")).result == apb.PIN_RESULT_LOCKED
    assert (await attempt(core, "4711", device="hd3002")).result == apb.PIN_RESULT_OK


async def test_one_phone_guessing_many_users_is_locked(
    make_core: MakeCore, clock: FakeClock
) -> None:
    core = await make_core(device_max_failures=5)
    for ext in ("1001", "1002", "1003", "1001", "1002"):
        await attempt(core, WRONG, who=user(ext))
    bob = user("1003")
    blocked = await attempt(core, "5173", device="hd3001", who=bob)
    assert (blocked.result, blocked.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 900)
    assert (await attempt(core, "5173", device="hd3002", who=bob)).result == apb.PIN_RESULT_OK
    clock.advance(900)
    assert (await attempt(core, "5173", device="hd3001", who=bob)).result == apb.PIN_RESULT_OK


async def test_operator_unlocks_a_device(make_core: MakeCore) -> None:
    core = await make_core(device_max_failures=2)
    await attempt(core, WRONG, who=user("1002"))
    await attempt(core, WRONG, who=user("1003"))
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_LOCKED
    assert await core.unlock(None, "hd3001", "operator:test") == 1
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK
    with pytest.raises(NotFound):
        await core.unlock(None, "zz", "operator:test")
    with pytest.raises(InvalidArgument):
        await core.unlock(None, "", "operator:test")


async def test_unlock_everywhere_or_on_one_desk(make_core: MakeCore) -> None:
    core = await make_core()
    for device in ("hd3001", "hd3002", "hd3003"):
        await attempt(core, WRONG, device=device)
    await attempt(core, WRONG, who=user("1002"))  # someone else's counter stays
    assert await core.unlock(user(), "hd3003", "operator:test") == 1
    assert await core.unlock(pb.UserRef(hotdesk_id="alice"), "", "operator:test") == 2
    assert await core.unlock(user(), "", "operator:test") == 0
    assert (await attempt(core, WRONG, who=user("1002"))).attempts_left == 1


async def test_success_resets_the_user_device_counter_only(
    make_core: MakeCore, redis: Redis
) -> None:
    core = await make_core(device_max_failures=4)
    await attempt(core, WRONG)
    await attempt(core, WRONG)
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK
    assert (await attempt(core, WRONG)).attempts_left == 2
    # The device still counts the three wrong PINs (and not the right one).
    assert await redis.hget(keys.pin_failures_device("acme", "hd3001"), "fails") == "3"
    assert (await attempt(core, WRONG, who=user("1002"))).result == apb.PIN_RESULT_LOCKED


async def test_a_right_pin_that_reaches_the_device_limit_does_not_lock_it(
    make_core: MakeCore,
) -> None:
    core = await make_core(device_max_failures=2)
    await attempt(core, WRONG, who=user("1002"))
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK
    assert (await attempt(core, "8264", who=user("1002"))).result == apb.PIN_RESULT_OK


async def test_counters_forget_after_the_window(make_core: MakeCore, clock: FakeClock) -> None:
    core = await make_core(failure_window_seconds=600)
    await attempt(core, WRONG)
    clock.advance(599)
    assert (await attempt(core, WRONG)).attempts_left == 1  # still counted
    clock.advance(599)
    assert (await attempt(core, WRONG)).attempts_left == 0  # each failure restarts the window
    clock.advance(30 + 600)
    assert (await attempt(core, WRONG)).attempts_left == 2  # forgotten


async def test_device_counter_forgets_after_its_window(
    make_core: MakeCore, clock: FakeClock
) -> None:
    core = await make_core(device_max_failures=3, device_window_seconds=900)
    await attempt(core, WRONG, who=user("1002"))
    await attempt(core, WRONG, who=user("1003"))
    clock.advance(900)
    await attempt(core, WRONG, who=user("1002"))
    assert (await attempt(core, WRONG)).result == apb.PIN_RESULT_WRONG_PIN
    assert (await attempt(core, WRONG)).result == apb.PIN_RESULT_LOCKED


async def test_concurrent_guesses_cannot_pass_an_open_gate_together(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    before = verifies()
    results = await asyncio.gather(*(attempt(core, f"{n:04d}7") for n in range(12)))
    tested = [r for r in results if r.result == apb.PIN_RESULT_WRONG_PIN]
    refused = [r for r in results if r.result == apb.PIN_RESULT_BACKOFF]
    assert (len(tested), len(refused)) == (3, 9)
    assert verifies() == before + 3


async def test_every_attempt_is_audited_and_counted_without_the_pin(
    make_core: MakeCore, redis: Redis, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    core = await make_core(free_attempts=1, lock_after=2, device_max_failures=3)
    caplog.set_level(logging.INFO)
    wrong_before = sample(
        "hotdesk_auth_pin_attempts_total", result="wrong_pin", channel="voice-menu"
    )
    user_locks, device_locks = (
        sample("hotdesk_auth_lockouts_total", scope=s) for s in ("user_device", "device")
    )
    unlocks = sample("hotdesk_auth_unlocks_total")
    await attempt(core, "9753")  # wrong, backoff 30 s
    await attempt(core, "4711")  # refused: backoff
    clock.advance(30)
    await attempt(core, "8642")  # wrong: user locked
    await core.unlock(user(), "hd3001", "operator:ann")
    await attempt(core, "4711")  # ok
    await core.verify_pin(user("1002"), "hd3001", "5791", "x" * 40)  # wrong: device locked
    entries = [e for _, e in await redis.xrange(keys.audit("acme"))]
    assert [(e["event"], e.get("result"), e.get("retry_after")) for e in entries] == [
        ("pin_attempt", "wrong_pin", "30"),
        ("pin_attempt", "backoff", "30"),
        ("pin_lockout", None, "3600"),
        ("pin_attempt", "locked", "3600"),
        ("unlock", None, None),
        ("pin_attempt", "ok", "0"),
        ("pin_lockout", None, "900"),
        ("pin_attempt", "locked", "900"),
    ]
    assert [e["scope"] for e in entries if e["event"] == "pin_lockout"] == ["user_device", "device"]
    first = entries[0]
    assert {k: first[k] for k in ("tenant", "extension", "device", "channel")} == {
        "tenant": "acme",
        "extension": "1001",
        "device": "hd3001",
        "channel": "voice-menu",
    }
    assert int(first["ts_ms"]) == clock.now - 30_000
    assert (entries[4]["actor"], entries[4]["cleared"]) == ("operator:ann", "1")
    dump = repr(entries) + logged(caplog)
    for pin in ("9753", "8642", "4711", "5791"):
        assert pin not in dump
    assert caplog.text.count("pin_attempt") == 5 and "pin_lockout" in caplog.text
    assert sample("hotdesk_auth_pin_attempts_total", result="wrong_pin", channel="voice-menu") == (
        wrong_before + 1
    )
    assert sample("hotdesk_auth_pin_attempts_total", result="locked", channel="other") >= 1
    assert sample("hotdesk_auth_lockouts_total", scope="user_device") == user_locks + 1
    assert sample("hotdesk_auth_lockouts_total", scope="device") == device_locks + 1
    assert sample("hotdesk_auth_unlocks_total") == unlocks + 1


async def test_attempts_at_an_unknown_device_are_logged(
    make_core: MakeCore, caplog: pytest.LogCaptureFixture
) -> None:
    core = await make_core()
    caplog.set_level(logging.INFO)
    await attempt(core, "9753", device="nowhere")
    (record,) = [r for r in caplog.records if r.getMessage() == "pin_attempt"]
    details = vars(record)["fields"]
    assert (details["device"], details["result"]) == ("nowhere", "unknown_device")
    assert "9753" not in logged(caplog)


async def test_set_pin_applies_policy_and_stores_argon2id(
    make_core: MakeCore, redis: Redis
) -> None:
    core = await make_core()
    with pytest.raises(PinPolicyError, match="consecutive"):
        await core.set_pin(user(), "2345", "operator:t")
    with pytest.raises(PinPolicyError, match="own extension"):
        await core.set_pin(user(), "1001", "operator:t")
    with pytest.raises(NotFound):
        await core.set_pin(user("1999"), "9731", "operator:t")
    await core.set_pin(user(), "9731", "operator:t")
    stored = await redis.get(keys.pin("acme", "acme", "1001"))
    assert stored.startswith("$argon2id$") and "9731" not in stored
    assert (await attempt(core, "9731")).result == apb.PIN_RESULT_OK
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_WRONG_PIN
    (_, entry), *_ = await redis.xrange(keys.audit("acme"), count=1)
    assert (entry["event"], entry["actor"]) == ("pin_set", "operator:t")
    assert "9731" not in repr(entry)


async def test_a_hash_of_other_cost_is_redone_on_login(make_core: MakeCore, redis: Redis) -> None:
    core = await make_core(argon2_time_cost=2)
    key = keys.pin("acme", "acme", "1001")
    assert "t=1," in await redis.get(key)
    assert (await attempt(core, WRONG)).result == apb.PIN_RESULT_WRONG_PIN
    assert "t=1," in await redis.get(key)
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK
    assert "t=2," in await redis.get(key)
    assert (await attempt(core, "4711")).result == apb.PIN_RESULT_OK


async def test_login_with_pin_binds_only_on_the_right_pin(make_core: MakeCore) -> None:
    core = await make_core()
    wrong = await core.login_with_pin(
        apb.LoginWithPinRequest(user=user(), device_id="hd3001", pin=WRONG, channel="voice-menu")
    )
    assert wrong.pin.result == apb.PIN_RESULT_WRONG_PIN and not wrong.HasField("login")
    ok = await core.login_with_pin(
        apb.LoginWithPinRequest(user=user(), device_id="hd3001", pin="4711", channel="voice-menu")
    )
    assert ok.pin.result == apb.PIN_RESULT_OK
    assert ok.login.result == pb.LOGIN_RESULT_LOGGED_IN
    assert ok.login.binding.device_id == "hd3001"


async def test_a_user_guessed_at_from_many_desks_is_locked_on_every_desk(
    make_core: MakeCore, redis: Redis, clock: FakeClock
) -> None:
    core = await make_core(user_max_failures=4, user_lock_seconds=600)
    locks, failures = (
        sample("hotdesk_auth_lockouts_total", scope="user"),
        sample("hotdesk_auth_user_pin_failures_total"),
    )
    for device in ("hd3001", "hd3002", "hd3003", "hd3004"):  # one try each
        await attempt(core, WRONG, device=device)
    refused = await attempt(core, "4711", device="hd3005")  # the right PIN, a fresh desk
    assert (refused.result, refused.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 600)
    assert (await attempt(core, "8264", device="hd3005", who=user("1002"))).result == (
        apb.PIN_RESULT_OK  # only that user
    )
    assert sample("hotdesk_auth_lockouts_total", scope="user") == locks + 1
    assert sample("hotdesk_auth_user_pin_failures_total") == failures + 4
    entries = [e for _, e in await redis.xrange(keys.audit("acme"))]
    (lockout,) = [e for e in entries if e["event"] == "pin_lockout"]
    assert (lockout["scope"], lockout["extension"], lockout["device"]) == ("user", "1001", "hd3004")
    clock.advance(600)
    assert (await attempt(core, "4711", device="hd3005")).result == apb.PIN_RESULT_OK


async def test_a_right_pin_gives_back_only_its_own_attempt_to_the_user_counter(
    make_core: MakeCore,
) -> None:
    core = await make_core(user_max_failures=3)
    await attempt(core, WRONG, device="hd3001")
    await attempt(core, WRONG, device="hd3002")
    assert (await attempt(core, "4711", device="hd3003")).result == apb.PIN_RESULT_OK
    assert (await attempt(core, WRONG, device="hd3004")).result == apb.PIN_RESULT_LOCKED


async def test_an_extension_that_matches_no_user_is_never_logged_or_audited(
    make_core: MakeCore, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    core = await make_core()
    caplog.set_level(logging.INFO)
    await attempt(core, "1234", who=user("9731"))  # a PIN typed at the extension prompt
    await attempt(core, "1234", who=user("1004"))  # a user without a PIN: named
    entries = [e for _, e in await redis.xrange(keys.audit("acme"))]
    assert [(e["extension"], e["result"]) for e in entries] == [
        ("unknown", "unknown_user"),
        ("1004", "no_pin"),
    ]
    assert "9731" not in repr(entries) + logged(caplog)


async def test_unlocking_a_user_clears_the_lock_across_devices(make_core: MakeCore) -> None:
    core = await make_core(user_max_failures=2)
    await attempt(core, WRONG, device="hd3001")
    await attempt(core, WRONG, device="hd3002")
    assert (await attempt(core, "4711", device="hd3003")).result == apb.PIN_RESULT_LOCKED
    assert await core.unlock(user(), "hd3001", "operator:test") == 1  # a desk's counter
    assert (await attempt(core, "4711", device="hd3003")).result == apb.PIN_RESULT_OK
