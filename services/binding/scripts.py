"""The binding Lua scripts; each is ``common.lua`` plus its own file."""

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from services.kernel.lua import register


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
