"""The binding Lua scripts (each is ``common.lua`` plus its own file) and the
decoding of what they return."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from services.kernel.lua import named, register, unnamed

ScriptCall = tuple[Sequence[str], Sequence[Any]]  # (keys, args)


@dataclass(frozen=True)
class Ended:
    """A session a script ended, and why (the lowercase ChangeReason name)."""

    binding: pb.Binding
    reason: str


# The named fields of a session as ``binding_of`` in common.lua returns it.
BINDING_FIELDS = (
    "device",
    "device_tenant",
    "tenant",
    "extension",
    "name",
    "caller_id",
    "since_ms",
    "expires_ms",
    "generation",
)
ENDED_FIELDS = (*BINDING_FIELDS, "reason")
LOGIN_REPLY = ("result", "session", "ended")
LOGOUT_REPLY = ("result", "ended")
EXPIRE_REPLY = ("due", "ended")


def _binding(f: dict[str, Any]) -> pb.Binding:
    return pb.Binding(
        device_id=f["device"],
        device_tenant=f["device_tenant"],
        tenant=f["tenant"],
        extension=f["extension"],
        display_name=f["name"],
        caller_id=f["caller_id"],
        since_unix_ms=int(f["since_ms"]),
        expires_unix_ms=int(f["expires_ms"]),
        generation=int(f["generation"]),
    )


def decode_binding(item: Sequence[Any]) -> pb.Binding:
    """A session as ``binding_of`` in common.lua returns it."""
    return _binding(unnamed(item, BINDING_FIELDS))


def decode_ended(items: Sequence[Sequence[Any]]) -> list[Ended]:
    """Ended sessions (``binding_of`` with their reason)."""
    out = []
    for item in items:
        f = unnamed(item, ENDED_FIELDS)
        out.append(Ended(_binding(f), f["reason"]))
    return out


def login_args(
    prefix: str,
    device_id: str,
    tenant: str,
    extension: str,
    *,
    allow_takeover: bool,
    deny_second: bool,
    now_ms: int,
    expires_ms: int,
    actor: str,
    maxlen: int,
) -> list[Any]:
    """login.lua's named arguments."""
    return named(
        {
            "prefix": prefix,
            "device": device_id,
            "tenant": tenant,
            "extension": extension,
            "allow_takeover": int(allow_takeover),
            "deny_second": int(deny_second),
            "now_ms": now_ms,
            "expires_ms": expires_ms,
            "actor": actor,
            "maxlen": maxlen,
        }
    )


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
