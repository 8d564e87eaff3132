"""The binding Lua scripts, registered once per Redis client.

redis-py's Script runs EVALSHA and reloads the script on NOSCRIPT, so the
scripts survive a Redis restart without any action here.
"""

from dataclasses import dataclass
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def _source(name: str) -> str:
    lua = resources.files(__package__).joinpath("lua")
    return lua.joinpath("common.lua").read_text() + "\n" + lua.joinpath(name).read_text()


@dataclass(frozen=True)
class BindingScripts:
    login: AsyncScript
    logout: AsyncScript
    expire: AsyncScript
    route: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> "BindingScripts":
        return cls(
            login=redis.register_script(_source("login.lua")),
            logout=redis.register_script(_source("logout.lua")),
            expire=redis.register_script(_source("expire.lua")),
            route=redis.register_script(_source("route.lua")),
        )
