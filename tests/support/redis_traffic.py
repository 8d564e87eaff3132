"""What a piece of work sends to a real Redis: socket writes (a pipeline
is one) and the commands Redis itself counted."""

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection


@dataclass(frozen=True)
class Traffic:
    round_trips: int  # writes to the socket: a pipeline is one
    evalsha: int
    other_commands: set[str]  # top-level commands but EVALSHA (and script-internal reads)


async def traffic(
    redis: Redis, monkeypatch: pytest.MonkeyPatch, work: Awaitable[object]
) -> Traffic:
    """What ``work`` sent to Redis."""
    writes = 0
    send = Connection._send_packed_command

    async def counting(self: Connection, command: Iterable[bytes]) -> None:
        nonlocal writes
        writes += 1
        await send(self, command)

    await redis.config_resetstat()
    with monkeypatch.context() as patch:
        patch.setattr(Connection, "_send_packed_command", counting)
        await work
    stats = await redis.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}
    # HMGET/HGET run inside the scripts; everything else would be a client's.
    other = set(calls) - {"evalsha", "hmget", "hget", "config|resetstat"}
    return Traffic(writes, calls.get("evalsha", 0), other)
