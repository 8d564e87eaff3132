"""The session rule and the named-field contract: Python and the Lua the
scripts get agree, on a real redis-server."""

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from services.binding.scripts import BindingScripts, login_args
from services.kernel import keys, sessions
from services.kernel.lua import PRELUDE, FieldsError, named, unnamed

NOW = 1_700_000_000_000

# Device hashes as the binding scripts (or an older writer) may leave them.
RECORDS: dict[str, dict[str, str]] = {
    "no session": {"tenant": "acme"},
    "no expiry": {"user_tenant": "acme", "user_ext": "1001", "since_ms": "5", "expires_ms": "0"},
    "expiry unset": {"user_tenant": "acme", "user_ext": "1001", "since_ms": "5"},
    "expires later": {"user_tenant": "acme", "user_ext": "1001", "expires_ms": str(NOW + 1)},
    "expires now": {"user_tenant": "acme", "user_ext": "1001", "expires_ms": str(NOW)},
    "expired": {"user_tenant": "acme", "user_ext": "1001", "expires_ms": str(NOW - 1)},
    "empty extension": {"user_tenant": "acme", "user_ext": "", "expires_ms": "0"},
    "other tenant": {"user_tenant": "beta", "user_ext": "7", "since_ms": "9", "expires_ms": "0"},
}

# The generated rule, as every script sees it: the live session or {}.
_LIVE_LUA = (
    PRELUDE
    + """
local v = redis.call('HMGET', KEYS[1], SESSION_TENANT, SESSION_EXT, SESSION_SINCE, SESSION_EXPIRES)
local s = live_session(v, tonumber(ARGV[1]))
if not s then return {} end
return {s[1], s[2], s[3], s[4]}
"""
)


async def test_python_and_lua_agree_on_which_sessions_are_live(redis: Redis) -> None:
    script = redis.register_script(_LIVE_LUA)
    seen = set()
    for label, record in RECORDS.items():
        key = keys.device("acme", f"rule-{label.replace(' ', '-')}")
        await redis.hset(key, mapping=record)
        python = sessions.live(await redis.hmget(key, *sessions.FIELDS), NOW)
        lua = await script(keys=[key], args=[NOW])
        expected = None if not lua else sessions.Session(lua[0], lua[1], lua[2], lua[3])
        assert python == expected, label
        seen.add(python is not None)
    assert seen == {True, False}  # the records cover both answers


def test_the_rule() -> None:
    assert sessions.is_past(NOW, NOW) and sessions.is_past(NOW - 1, NOW)
    assert not sessions.is_past(NOW + 1, NOW)
    assert not sessions.is_past(sessions.NO_EXPIRY, NOW)
    assert sessions.of_hash(RECORDS["no session"]) is None
    session = sessions.of_hash(RECORDS["expired"])
    assert session is not None and session.user == "acme/1001" and not session.is_live(NOW)


def test_named_fields_in_python() -> None:
    assert unnamed(named({"a": 1, "b": "x"}), ("a", "b")) == {"a": 1, "b": "x"}
    with pytest.raises(FieldsError, match="missing"):
        unnamed(["a", 1], ("a", "b"))
    with pytest.raises(FieldsError, match="unknown"):
        unnamed(["a", 1, "b", 2, "c", 3], ("a", "b"))
    with pytest.raises(FieldsError, match="repeated"):
        unnamed(["a", 1, "a", 2, "b", 3], ("a", "b"))
    with pytest.raises(FieldsError, match="without a value"):
        unnamed(["a", 1, "b"], ("a", "b"))


async def test_named_fields_in_lua(redis: Redis) -> None:
    echo = redis.register_script(
        PRELUDE
        + """
local a = named_args(ARGV, {'a', 'b'})
return named_reply(a, {'b', 'a'})
"""
    )
    assert await echo(args=["a", "1", "b", "2"]) == ["b", "2", "a", "1"]
    for args, error in (
        (["a", "1"], "missing field b"),
        (["a", "1", "b", "2", "c", "3"], "unknown field c"),
        (["a", "1", "a", "2", "b", "3"], "repeated field a"),
        (["a", "1", "b"], "a name without a value"),
    ):
        with pytest.raises(ResponseError, match=error):
            await echo(args=args)


async def test_a_binding_script_refuses_a_shifted_argument_list(redis: Redis) -> None:
    login = BindingScripts.register(redis).login
    args = login_args(
        keys.prefix("acme"),
        "hd1",
        "acme",
        "1001",
        allow_takeover=False,
        deny_second=False,
        now_ms=NOW,
        expires_ms=0,
        actor="test",
        maxlen=100,
    )
    device, user = keys.device("acme", "hd1"), keys.user("acme", "acme", "1001")
    with pytest.raises(ResponseError, match="missing field actor"):
        await login(keys=[device, user], args=[a for a in args if a not in ("actor", "test")])
    assert not await redis.exists(device)  # refused before anything was written
