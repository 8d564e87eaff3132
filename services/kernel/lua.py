"""Loading a package's Lua scripts (from its ``lua/`` folder) into Redis, and
the named-field contract between the scripts and Python.

redis-py's Script runs EVALSHA and reloads the script on NOSCRIPT, so the
scripts survive a Redis restart without any action here.

Arguments and replies that carry more than one value travel as named
fields, a flat list ``name1, value1, name2, value2, ...``: ``named`` builds
one in Python, ``named_args`` reads ARGV in Lua, ``named_reply`` builds a
reply in Lua and ``unnamed`` reads it in Python. Each side checks the
names: a missing, unknown or repeated field is an error, never a value
read from the wrong place.
"""

from collections.abc import Callable, Collection, Mapping, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from services.kernel import sessions
from services.kernel.batch import Batch, reloading

_FIELDS_LUA = """\
-- Generated from services/kernel/lua.py: named fields (see there).
-- `argv` (from the first index `from`, default 1) as a table of named
-- fields; every name of `names` exactly once, no other.
local function named_args(argv, names, from)
  local want, out = {}, {}
  for _, n in ipairs(names) do want[n] = true end
  from = from or 1
  if (#argv - from + 1) % 2 ~= 0 then error('named fields: a name without a value') end
  for i = from, #argv, 2 do
    local name = argv[i]
    if not want[name] then error('named fields: unknown field ' .. tostring(name)) end
    if out[name] ~= nil then error('named fields: repeated field ' .. name) end
    out[name] = argv[i + 1]
  end
  for _, n in ipairs(names) do
    if out[n] == nil then error('named fields: missing field ' .. n) end
  end
  return out
end

-- The table `t` as a reply of named fields, in the order of `names`; every
-- name must have a value.
local function named_reply(t, names)
  local out = {}
  for _, n in ipairs(names) do
    if t[n] == nil then error('named fields: reply lacks ' .. n) end
    out[#out + 1] = n
    out[#out + 1] = t[n]
  end
  return out
end
"""

# Put in front of every script: the named fields and the session rule.
PRELUDE = _FIELDS_LUA + sessions.LUA


class FieldsError(ValueError):
    """A named-field list that does not hold exactly the expected fields."""


def named(fields: Mapping[str, Any]) -> list[Any]:
    """``fields`` as the flat list a script reads with ``named_args``."""
    return [item for pair in fields.items() for item in pair]


def unnamed(reply: Sequence[Any], expected: Collection[str]) -> dict[str, Any]:
    """A script's named-field reply as a dict holding exactly ``expected``."""
    if len(reply) % 2:
        raise FieldsError(f"a name without a value in {list(reply)!r}")
    out: dict[str, Any] = {}
    for name, value in zip(reply[0::2], reply[1::2], strict=True):
        if name not in expected:
            raise FieldsError(f"unknown field {name!r}")
        if name in out:
            raise FieldsError(f"repeated field {name!r}")
        out[name] = value
    missing = [n for n in expected if n not in out]
    if missing:
        raise FieldsError(f"missing fields {missing!r}")
    return out


def source(package: str, *names: str) -> str:
    """The script made of ``PRELUDE`` and the named files of ``package``'s
    lua/ folder, in order (shared helpers first)."""
    folder = resources.files(package).joinpath("lua")
    return "\n".join([PRELUDE, *(folder.joinpath(n).read_text() for n in names)])


def register(redis: Redis, package: str, *names: str) -> AsyncScript:
    """One script made of the named files of ``package``'s lua/ folder (see
    ``source``)."""
    return redis.register_script(source(package, *names))


def queue(
    pipe: Pipeline | Batch,
    script: AsyncScript,
    keys: Sequence[str],
    args: Sequence[Any],
    *,
    read_only: bool = False,
) -> None:
    """``script`` on ``pipe`` as a plain EVALSHA (see ``pipelined``, ``batch``);
    ``read_only``: as EVALSHA_RO, which a Redis user with read-only access
    to the keys may run (EVALSHA needs write access to every key it names)."""
    if read_only:
        pipe.evalsha_ro(script.sha, len(keys), *keys, *args)
    else:
        pipe.evalsha(script.sha, len(keys), *keys, *args)


async def pipelined(
    redis: Redis, scripts: Sequence[AsyncScript], commands: Callable[[Pipeline], None]
) -> list[Any]:
    """One round trip: a pipeline of ``commands``, which may ``queue`` any of
    ``scripts``. A redis-py pipeline given Script objects asks SCRIPT EXISTS
    before every execute, a second round trip; this sends EVALSHA straight
    away and, after a NOSCRIPT reply (a restarted Redis), loads the scripts
    and sends the pipeline again, so its commands must be safe to repeat."""

    async def once() -> list[Any]:
        async with redis.pipeline(transaction=False) as pipe:
            commands(pipe)
            return list(await pipe.execute())

    return await reloading(redis, scripts, once)
