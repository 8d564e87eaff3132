"""Loading a package's Lua scripts (from its ``lua/`` folder) into Redis.

redis-py's Script runs EVALSHA and reloads the script on NOSCRIPT, so the
scripts survive a Redis restart without any action here.
"""

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def register(redis: Redis, package: str, *names: str) -> AsyncScript:
    """One script made of the named files of ``package``'s lua/ folder, in
    order (shared helpers first)."""
    folder = resources.files(package).joinpath("lua")
    return redis.register_script("\n".join(folder.joinpath(n).read_text() for n in names))
