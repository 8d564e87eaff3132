"""The binding Lua scripts (each is ``common.lua`` plus its own file) and the
decoding of what they return."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from services.kernel.lua import register

ScriptCall = tuple[Sequence[str], Sequence[Any]]  # (keys, args)


@dataclass(frozen=True)
class Ended:
    """A session a script ended, and why (the lowercase ChangeReason name)."""

    binding: pb.Binding
    reason: str


def decode_binding(item: Sequence[Any]) -> pb.Binding:
    """A session as ``binding_of`` in common.lua returns it."""
    device, device_tenant, tenant, ext, name, caller_id, since, expires, gen = item[:9]
    return pb.Binding(
        device_id=device,
        device_tenant=device_tenant,
        tenant=tenant,
        extension=ext,
        display_name=name,
        caller_id=caller_id,
        since_unix_ms=int(since),
        expires_unix_ms=int(expires),
        generation=int(gen),
    )


def decode_ended(items: Sequence[Sequence[Any]]) -> list[Ended]:
    return [Ended(decode_binding(item), item[9]) for item in items]


@dataclass(frozen=True)
class BindingScripts:
    login: AsyncScript
    logout: AsyncScript
    expire: AsyncScript
    route: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> "BindingScripts":
        def script(name: str) -> AsyncScript:
            return register(redis, "services.binding", "common.lua", name)

        return cls(
            login=script("login.lua"),
            logout=script("logout.lua"),
            expire=script("expire.lua"),
            route=script("route.lua"),
        )


async def _evalsha_pipeline(redis: Redis, sha: str, calls: Sequence[ScriptCall]) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for keys, args in calls:
            pipe.evalsha(sha, len(keys), *keys, *args)
        return list(await pipe.execute())


async def run_pipelined(
    redis: Redis, script: AsyncScript, calls: Sequence[ScriptCall]
) -> list[Any]:
    """Several calls of one script in one round trip (keys in different slots).

    A redis-py pipeline given Script objects asks SCRIPT EXISTS before every
    execute, a second round trip; this sends EVALSHA straight away and loads
    the script only after a NOSCRIPT reply (a restarted Redis), like Script.
    """
    try:
        return await _evalsha_pipeline(redis, script.sha, calls)
    except NoScriptError:
        script.sha = await redis.script_load(script.script)
        return await _evalsha_pipeline(redis, script.sha, calls)
