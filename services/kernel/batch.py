"""A batch of Redis commands sent in one round trip, for hot paths: what a
non-transactional pipeline does, without its per-command bookkeeping.

A redis-py Pipeline costs Python per command on top of the round trip (a
timeout context and a health-check stamp per reply, response callbacks, an
observability record, a task for the write deadline), and taking a pooled
connection costs as much again. On a single Redis a ``Batcher`` keeps one
connection of the client's pool (``_Shared``): each batch is written on it
as it comes, one reader takes the replies in order and hands each batch its
own, so batches of concurrent requests share the socket's reads and writes.
A reply later than the client's socket timeout, or a broken connection,
ends that connection (every batch waiting on it fails over) and the
client's retry policy sends the batch again on a new one: the commands
must be safe to repeat. Replies come back as Redis sends them (decoded
strings, lists, None; no response callbacks), so a batch holds only
commands whose raw reply is what the caller reads. The first error reply
of a batch is raised once all of its replies are read. On a Redis Cluster
(``_ByNode``) each command goes the same way to the master of its key's
slot, on a kept connection per master: the commands for one master in one
write, the masters asked at once. A batch that meets a redirect (the slot
moved), a cluster-down reply or a master that does not answer (it rests a
second) runs again as redis-py's cluster pipeline, which follows redirects
and learns the new slot map; so does a batch with a command it cannot place
(no key, keys in several slots). The pipeline costs ~120 µs more of Python
per batch than kept connections.

The kept connection is made by the pool (authentication, TLS, database as
configured); its writer and parser are redis-py internals, used as
``send_packed_command`` and ``read_response`` use them. Per batch the hot
path costs one future, and one write per turn of the event loop for every
batch sent in it: the reader takes every complete reply already buffered
without awaiting each (the hiredis reader's ``gets``), and one timer per
connection, not one per batch, watches the oldest batch's deadline
(``asyncio.timeout`` per batch cost as much as the rest of the batch's
Python together).
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from hiredis import pack_command
from redis import exceptions as redis_errors
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.crc import key_slot

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


def _pack(commands: Sequence[Args]) -> bytes:
    """``commands`` in RESP, in one buffer (hiredis packs each in C)."""
    # hiredis's stub types the argument as a tuple of one element.
    return b"".join([pack_command(args) for args in commands])  # type: ignore[arg-type]


@dataclass
class _Waiting:
    """A batch written, waiting for its ``count`` replies until ``deadline``
    (the loop's clock; None: no timeout)."""

    count: int
    done: asyncio.Future[list[Any]]
    deadline: float | None
    replies: list[Any] = field(default_factory=list)


class OldestDeadline:
    """One timer for a queue whose entries each have a deadline, in the order
    they joined: ``late`` runs once the oldest entry still waiting is past
    its own (every one behind it is then late too). ``oldest`` gives that
    deadline, None when nothing waits. A timer per entry cost more than the
    rest of a batch's Python."""

    def __init__(self, oldest: Callable[[], float | None], late: Callable[[], None]) -> None:
        self._oldest = oldest
        self._late = late
        self._timer: asyncio.TimerHandle | None = None

    def added(self, deadline: float) -> None:
        """An entry with ``deadline`` joined the end of the queue."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._check)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        deadline = self._oldest()
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < deadline:
            self._timer = loop.call_at(deadline, self._check)
            return
        self._late()


class ConnectionSource(Protocol):
    """Where a session takes its connection from and gives it back."""

    async def get_connection(self) -> Connection: ...

    async def release(self, connection: Connection) -> None: ...


class _Session:
    """One connection taken from the pool until it breaks: the batches
    written on it, and the reader that hands them their replies."""

    def __init__(self, pool: ConnectionSource, conn: Connection) -> None:
        self.conn = conn
        self.live = True
        self.waiting: deque[_Waiting] = deque()
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._timeout = conn.socket_timeout
        self._deadlines = OldestDeadline(self._oldest_deadline, self._timed_out)
        self._unwritten: list[bytes] = []
        self.reader = self._loop.create_task(self._read())

    def send(self, packed: bytes, count: int) -> asyncio.Future[list[Any]]:
        """The replies of a batch of ``count`` commands (``packed``). It is
        written with every other batch sent in the same turn of the event
        loop: one write for the requests that arrived together."""
        if not self.live:
            ended = self._loop.create_future()
            ended.set_exception(redis_errors.ConnectionError("Redis connection closed"))
            return ended
        deadline = None if self._timeout is None else self._loop.time() + self._timeout
        waiting = _Waiting(count, self._loop.create_future(), deadline)
        self.waiting.append(waiting)
        if deadline is not None:
            self._deadlines.added(deadline)
        if not self._unwritten:
            self._loop.call_soon(self._write)
        self._unwritten.append(packed)
        return waiting.done

    def _write(self) -> None:
        unwritten, self._unwritten = self._unwritten, []
        if not self.live:
            return
        writer = self.conn._writer
        try:
            if writer is None:  # closed under the session
                raise OSError("Redis connection closed")
            # A Redis that stops reading fills the transport's buffer only
            # until the oldest batch's deadline ends the connection.
            writer.write(b"".join(unwritten))
        except OSError as exc:
            error = redis_errors.ConnectionError(f"Error writing to Redis: {exc}")
            self._loop.create_task(self.end(error))

    def _oldest_deadline(self) -> float | None:
        return self.waiting[0].deadline if self.live and self.waiting else None

    def _timed_out(self) -> None:
        """The oldest batch is past its deadline: the connection ends."""
        self._loop.create_task(self.end(redis_errors.TimeoutError("Timeout reading from Redis")))

    async def end(self, error: Exception) -> None:
        """Every batch still waiting fails with ``error``; the reader stops
        (and gives the connection back to the pool)."""
        if not self.live:
            return
        self.live = False
        self._deadlines.cancel()
        waiting, self.waiting = self.waiting, deque()
        for each in waiting:
            if not each.done.done():
                each.done.set_exception(error)
        await self.conn.disconnect(nowait=True)

    def _take(self, reply: Any) -> None:
        if isinstance(reply, redis_errors.ConnectionError):
            raise reply
        head = self.waiting[0]
        head.replies.append(reply)
        if len(head.replies) == head.count:
            self.waiting.popleft()
            if not head.done.done():  # not cancelled meanwhile
                head.done.set_result(head.replies)

    async def _read(self) -> None:
        parser = self.conn._parser
        assert isinstance(parser, _AsyncHiredisParser)  # hiredis is a dependency
        try:
            while self.live:
                # Wait for one reply, then take the rest already buffered.
                self._take(await parser.read_response())
                while (reply := parser._reader.gets()) is not NOT_ENOUGH_DATA:
                    self._take(reply)
        except asyncio.CancelledError:
            await self.end(redis_errors.ConnectionError("Redis batches stopped"))
            raise
        except Exception as exc:
            await self.end(redis_errors.ConnectionError(f"Redis connection lost: {exc}"))
        finally:
            await self._pool.release(self.conn)


class _Shared:
    """Batches on one connection of ``pool`` at a time; a batch that fails
    with a connection error or a timeout is sent again as ``retry`` says."""

    def __init__(self, pool: ConnectionSource, retry: Retry) -> None:
        self._pool = pool
        self._retry = retry
        self._session: _Session | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> _Session:
        async with self._opening:
            if self._session is None or not self._session.live:
                conn = await self._pool.get_connection()
                try:
                    if not conn.is_connected:
                        await conn.connect()
                except BaseException:
                    await self._pool.release(conn)
                    raise
                self._session = _Session(self._pool, conn)
            return self._session

    async def _once(self, packed: bytes, count: int) -> list[Any]:
        session = self._session
        if session is None or not session.live:
            session = await self._open()
        replies = await session.send(packed, count)
        for reply in replies:
            if isinstance(reply, redis_errors.ResponseError):
                raise reply
        return replies

    async def run(self, commands: Sequence[Args]) -> list[Any]:
        packed = _pack(commands)

        async def ended(_: Exception) -> None:  # the session ended itself
            pass

        replies: list[Any] = await self._retry.call_with_retry(
            lambda: self._once(packed, len(commands)), ended
        )
        return replies


def _cluster(redis: Redis) -> Callable[[Sequence[Args]], Awaitable[list[Any]]]:
    async def run(commands: Sequence[Args]) -> list[Any]:
        async with redis.pipeline(transaction=False) as pipe:
            for args in commands:
                pipe.execute_command(*args)
            return list(await pipe.execute())

    return run


def _keys(args: Args) -> Sequence[str | int]:
    """The keys a ``Batch`` command names (none for a script without keys)."""
    if args[0] in ("EVALSHA", "EVALSHA_RO"):
        return args[3 : 3 + int(args[2])]
    return args[1:2]  # GET, HGET, HMGET


class _NodePool:
    """A cluster node's connections, taken and given back as from a pool."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node

    async def get_connection(self) -> Connection:
        connection: Connection = self._node.acquire_connection()
        return connection

    async def release(self, connection: Connection) -> None:
        self._node.release(connection)


# A node whose connection failed gets no batch of its own for this long:
# they go through the cluster pipeline, which learns where its slots went.
_NODE_RESTING_SECONDS = 1.0
# What sends a batch on to the cluster pipeline: the slot moved (MOVED,
# ASK), the cluster cannot serve it now (CLUSTERDOWN, TRYAGAIN), the node
# does not answer.
_PIPELINE_HANDLES = (
    redis_errors.AskError,  # and MovedError
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)


class _ByNode:
    """Batches on a Redis Cluster: each command on a kept connection to the
    master of its key's slot, the commands for one master in one write and
    the masters asked at once; else (a command without keys, or with keys
    in several slots, a master resting) as a cluster pipeline."""

    def __init__(
        self,
        redis: RedisCluster,
        node_connections: Callable[[ClusterNode], ConnectionSource],
        untracked: Callable[[], None],
    ) -> None:
        self._redis = redis
        self._pipeline = _cluster(redis)
        self._node_connections = node_connections
        self._untracked = untracked
        self._nodes: dict[str, _Shared] = {}
        self._resting: dict[str, float] = {}
        self._no_retry = Retry(NoBackoff(), 0)  # the pipeline is the retry

    def _by_master(self, commands: Sequence[Args]) -> dict[str, list[int]] | None:
        """The indexes of ``commands`` by the master that serves each."""
        masters: dict[str, list[int]] = {}
        now = asyncio.get_running_loop().time()
        for index, args in enumerate(commands):
            slots = {key_slot(str(key).encode()) for key in _keys(args)}
            if len(slots) != 1:
                return None
            try:
                node: ClusterNode = self._redis.nodes_manager.get_node_from_slot(slots.pop())
            except redis_errors.SlotNotCoveredError:
                return None
            if now < self._resting.get(node.name, 0.0):
                return None
            if node.name not in self._nodes:
                self._nodes[node.name] = _Shared(self._node_connections(node), self._no_retry)
            masters.setdefault(node.name, []).append(index)
        return masters

    async def _on(self, name: str, commands: Sequence[Args]) -> list[Any]:
        try:
            return await self._nodes[name].run(commands)
        except (redis_errors.ConnectionError, redis_errors.TimeoutError):
            loop = asyncio.get_running_loop()
            self._resting[name] = loop.time() + _NODE_RESTING_SECONDS
            raise

    async def _around(self, commands: Sequence[Args]) -> list[Any]:
        """``commands`` as a cluster pipeline: on none of the kept connections."""
        self._untracked()
        return await self._pipeline(commands)

    async def run(self, commands: Sequence[Args]) -> list[Any]:
        masters = self._by_master(commands)
        if masters is None:
            return await self._around(commands)
        try:
            if len(masters) == 1:
                ((name, _),) = masters.items()
                return await self._on(name, commands)
            parts = await asyncio.gather(
                *(
                    self._on(name, [commands[i] for i in indexes])
                    for name, indexes in masters.items()
                )
            )
        except _PIPELINE_HANDLES:
            return await self._around(commands)
        replies: list[Any] = [None] * len(commands)
        for indexes, part in zip(masters.values(), parts, strict=True):
            for index, reply in zip(indexes, part, strict=True):
                replies[index] = reply
        return replies


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
    """Batches on one client (a single Redis or a Cluster, told once); on a
    single Redis, on a connection of ``connections`` (default: the
    client's pool); on a cluster, on connections of ``node_connections``
    for each master (default: the node's pool), ``untracked`` called
    before a batch goes around them (as a cluster pipeline)."""

    def __init__(
        self,
        redis: Redis,
        connections: ConnectionSource | None = None,
        *,
        node_connections: Callable[[ClusterNode], ConnectionSource] = _NodePool,
        untracked: Callable[[], None] = lambda: None,
    ) -> None:
        self._redis = redis
        self._send = (
            _ByNode(cast(RedisCluster, redis), node_connections, untracked).run
            if is_cluster(redis)
            else _Shared(connections or redis.connection_pool, redis.get_retry()).run
        )

    async def run(
        self, scripts: Sequence[AsyncScript], commands: Callable[[Batch], None]
    ) -> list[Any]:
        """One round trip: the raw replies of ``commands``, which may run
        any of ``scripts`` by their sha (``lua.queue``)."""

        async def once() -> list[Any]:
            batch = Batch()
            commands(batch)
            return await self._send(batch.commands)

        return await reloading(self._redis, scripts, once)
