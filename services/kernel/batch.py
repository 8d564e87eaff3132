"""A batch of Redis commands sent in one round trip, for hot paths: what a
non-transactional pipeline does, without its per-command bookkeeping.

A redis-py Pipeline costs Python per command on top of the round trip: a
timeout context and a health-check stamp per reply, response callbacks, an
observability record, a task for the write deadline. On a single Redis a
``Batch`` is written and read on one pooled connection under one deadline
(the client's socket timeout) covering the write and every reply, with the
client's retry policy around the whole exchange (a reconnect resends it:
the commands must be safe to repeat). Replies come back as Redis sends
them (decoded strings, lists, None; no response callbacks), so a batch
holds only commands whose raw reply is what the caller reads. The first
error reply is raised once every reply is read (the connection stays in
step). On a Redis Cluster the batch runs as a cluster pipeline, which
splits it per node.

The connection's parser and writer are redis-py internals; the exchange is
the one ``Connection.read_response`` and ``send_packed_command`` make, with
one deadline instead of one per reply.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.commands.core import AsyncScript

from services.kernel.redis_conn import is_cluster

Args = tuple[str | int, ...]


class Batch:
    """The commands of one round trip, in order (each reply at its index)."""

    def __init__(self) -> None:
        self.commands: list[Args] = []

    def get(self, key: str) -> None:
        self.commands.append(("GET", key))

    def hget(self, key: str, field: str) -> None:
        self.commands.append(("HGET", key, field))

    def hmget(self, key: str, *fields: str) -> None:
        self.commands.append(("HMGET", key, *fields))

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: str | int) -> None:
        self.commands.append(("EVALSHA", sha, numkeys, *keys_and_args))

    def evalsha_ro(self, sha: str, numkeys: int, *keys_and_args: str | int) -> None:
        self.commands.append(("EVALSHA_RO", sha, numkeys, *keys_and_args))


async def _exchange(conn: Connection, packed: list[bytes], count: int) -> list[Any]:
    if not conn.is_connected:
        await conn.connect()
    await conn.check_health()
    replies: list[Any] = []
    try:
        async with asyncio.timeout(conn.socket_timeout):
            writer = conn._writer
            assert writer is not None  # connected
            writer.writelines(packed)
            await writer.drain()
            for _ in range(count):
                replies.append(await conn._parser.read_response())
    except TimeoutError:
        await conn.disconnect(nowait=True)
        raise redis_errors.TimeoutError("Timeout reading from Redis") from None
    except OSError as exc:
        await conn.disconnect(nowait=True)
        raise redis_errors.ConnectionError(f"Error while talking to Redis: {exc.args}") from exc
    except BaseException:
        # Whatever else broke the exchange (a cancelled request, a
        # ConnectionError from the parser): the socket may be out of step.
        await conn.disconnect(nowait=True)
        raise
    if conn.health_check_interval:  # a live connection: no PING before the next batch
        conn.next_health_check = asyncio.get_running_loop().time() + conn.health_check_interval
    for reply in replies:
        if isinstance(reply, redis_errors.ResponseError):
            raise reply
    return replies


def _pack(commands: Sequence[Args]) -> list[bytes]:
    """``commands`` in RESP (what ``Connection.pack_commands`` makes of
    string and integer arguments, in one buffer)."""
    out: list[bytes] = []
    for args in commands:
        out.append(b"*%d\r\n" % len(args))
        for arg in args:
            raw = arg.encode() if isinstance(arg, str) else b"%d" % arg
            out.append(b"$%d\r\n%b\r\n" % (len(raw), raw))
    return [b"".join(out)]


async def _single(redis: Redis, commands: Sequence[Args]) -> list[Any]:
    pool = redis.connection_pool
    conn = await pool.get_connection()
    try:
        packed = _pack(commands)

        async def disconnect(_: Exception) -> None:
            await conn.disconnect()

        replies: list[Any] = await conn.retry.call_with_retry(
            lambda: _exchange(conn, packed, len(commands)), disconnect
        )
        return replies
    finally:
        await pool.release(conn)


async def _cluster(redis: Redis, commands: Sequence[Args]) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for args in commands:
            pipe.execute_command(*args)
        return list(await pipe.execute())


async def reloading(
    redis: Redis, scripts: Sequence[AsyncScript], once: Callable[[], Awaitable[list[Any]]]
) -> list[Any]:
    """``once``, which sends EVALSHA of ``scripts`` straight away; after a
    NOSCRIPT reply (a restarted Redis) the scripts are loaded and ``once``
    runs again, so what it sends must be safe to repeat."""
    try:
        return await once()
    except redis_errors.NoScriptError:
        for script in scripts:
            script.sha = await redis.script_load(script.script)
        return await once()


class Batcher:
    """Batches on one client (a single Redis or a Cluster, told once)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._run = _cluster if is_cluster(redis) else _single

    async def run(
        self, scripts: Sequence[AsyncScript], commands: Callable[[Batch], None]
    ) -> list[Any]:
        """One round trip: the raw replies of ``commands``, which may run
        any of ``scripts`` by their sha (``lua.queue``)."""

        async def once() -> list[Any]:
            batch = Batch()
            commands(batch)
            return await self._run(self._redis, batch.commands)

        return await reloading(self._redis, scripts, once)
