"""What a piece of work sends to a real Redis: socket writes (a pipeline
or a batch is one) and the commands Redis itself counted."""

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis


@dataclass(frozen=True)
class Traffic:
    round_trips: int  # writes to the socket: a pipeline is one
    evalsha: int
    other_commands: set[str]  # top-level commands but EVALSHA (and script-internal reads)


async def traffic(
    redis: Redis, monkeypatch: pytest.MonkeyPatch, work: Awaitable[object]
) -> Traffic:
    """What ``work`` sent to Redis. Its writes are counted where every
    Redis client of the process writes: the connections' stream writers
    (redis-py's commands and pipelines use ``writelines``, kernel.batch
    ``write``)."""
    writes = 0
    write, writelines = asyncio.StreamWriter.write, asyncio.StreamWriter.writelines

    def counted_write(self: asyncio.StreamWriter, data: bytes) -> None:
        nonlocal writes
        writes += 1
        write(self, data)

    def counted_writelines(self: asyncio.StreamWriter, data: Iterable[bytes]) -> None:
        nonlocal writes
        writes += 1
        writelines(self, data)

    await redis.config_resetstat()
    with monkeypatch.context() as patch:
        patch.setattr(asyncio.StreamWriter, "write", counted_write)
        patch.setattr(asyncio.StreamWriter, "writelines", counted_writelines)
        await work
    stats = await redis.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}
    # HMGET/HGET run inside the scripts; everything else would be a client's.
    other = set(calls) - {"evalsha", "hmget", "hget", "config|resetstat"}
    return Traffic(writes, calls.get("evalsha", 0), other)
