"""Redis client-side caching (``CLIENT TRACKING``) for a read that repeats
far more often than what it reads changes: a phone's file.

Reads through ``Tracking.batcher`` run on one kept connection whose keys
Redis remembers (the default tracking mode). A script's keys count only
when its KEYS name them: a key a script finds on its own must be read
again outside it for a change of it to reach the caches. When a remembered
key changes (or expires, or is evicted), Redis pushes its name to a second
connection of ours (``REDIRECT``; RESP3, so no subscription is needed),
and every ``TrackedCache`` drops what was made of it.

A cached answer is served only after ``fresh()``: a PING on the
invalidation connection, written after the request arrived, whose PONG
Redis sends after every invalidation it had queued for us before. So a
write that completed before the request arrived (a login, then the
check-sync NOTIFY that made the phone ask) has reached the caches before
they answer. One PING serves every request of a turn of the event loop.

A value is not kept when an invalidation of one of its keys arrived while
it was read (``token``): the read may have seen the key before the change
the invalidation announced.
When either connection breaks, or a PONG is later than the client's socket
timeout, the caches are emptied and serve nothing until both connections
are back; the reads go on through ``batcher`` meanwhile, uncached.

On a Redis Cluster each node tracks only its own clients' reads: each
master that a batch reaches gets its own pair of connections (``_Node``),
the batcher's kept connection to it tracked to its invalidation
connection, and the barrier asks every one of them. There it is not a PING
but a read of a key in one of the node's slots (``keys.tracking_barrier``):
a node that no longer serves its slots (a fail-over turned it into a
replica, which still answers a PING) redirects it, and what was kept is
emptied and the node forgotten; a batch that went around the tracked
connections (a redirect, a master resting: the cluster pipeline) keeps
nothing it read. What stays open: a master cut off from the rest of the
cluster but not from us serves its old values until it sees the cluster
down (its node timeout), as it would serve any read; during a slot
migration the barrier may be redirected, and nothing is kept until it ends.
"""

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Generic, TypeVar, cast

from hiredis import pack_command
from redis import exceptions as redis_errors
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection
from redis.crc import key_slot

from services.kernel import keys
from services.kernel.batch import Batcher, OldestDeadline
from services.kernel.logs import fields
from services.kernel.redis_conn import is_cluster

log = logging.getLogger(__name__)

_PING = pack_command(("PING",))
_RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)  # then the last, until it connects
# Invalidated keys remembered for the reads in flight (``Tracking.current``);
# a read older than the oldest forgotten one is not kept.
_REMEMBERED_INVALIDATIONS = 100_000

V = TypeVar("V")


class TrackedCache(Generic[V]):
    """Values made of Redis keys read through ``Tracking.batcher``, each
    dropped as soon as one of its keys changes; at most ``size`` (the
    oldest kept goes first)."""

    def __init__(self, tracking: "Tracking", size: int) -> None:
        self._tracking = tracking
        self._size = size
        self._values: OrderedDict[str, tuple[V, tuple[str, ...]]] = OrderedDict()
        self._by_key: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, name: str) -> V | None:
        held = self._values.get(name)
        return None if held is None else held[0]

    def put(self, name: str, value: V, keys: Sequence[str], token: int) -> bool:
        """Keep ``value``, made of ``keys`` as read since ``token``
        (``Tracking.token()`` before the read), unless an invalidation
        came meanwhile or tracking is down: whether it was kept."""
        if self._size <= 0 or not self._tracking.current(token, keys):
            return False
        self._drop(name)
        if len(self._values) >= self._size:
            self._drop(next(iter(self._values)))  # the oldest kept
        self._values[name] = (value, tuple(keys))
        for key in keys:
            self._by_key.setdefault(key, set()).add(name)
        return True

    def replace(self, name: str, value: V) -> None:
        """``value`` for what is kept as ``name`` (if anything), made of the
        same keys: only for a change the caller itself made, of none of them."""
        held = self._values.get(name)
        if held is not None:
            self._values[name] = (value, held[1])

    def _drop(self, name: str) -> None:
        held = self._values.pop(name, None)
        for key in held[1] if held is not None else ():
            names = self._by_key.get(key)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_key[key]

    def invalidate(self, keys: Sequence[str] | None) -> None:
        """Drop what was made of ``keys`` (None: everything)."""
        if keys is None:
            self._values.clear()
            self._by_key.clear()
            return
        for key in keys:
            for name in self._by_key.pop(key, ()):
                self._drop(name)


class _TrackedConnections:
    """The batcher's connections to one node: each one opened with tracking
    on, redirected to the node's invalidation connection (when that one is
    up). ``node`` gives the node's tracking now (made again after it was
    dropped)."""

    def __init__(self, node: Callable[[], "_Node"]) -> None:
        self._node = node

    async def get_connection(self) -> Connection:
        node = self._node()
        await node.up()
        conn = node.new_connection()
        try:
            await conn.connect()
            await node.track(conn)
        except BaseException:
            await conn.disconnect()
            raise
        return conn

    async def release(self, connection: Connection) -> None:
        self._node().untrack(connection)
        await connection.disconnect(nowait=True)


class _Barrier:
    """One turn's requests waiting for every node's barrier reply."""

    def __init__(self, waiters: list[asyncio.Future[bool]], nodes: int) -> None:
        self._waiters = waiters
        self._left = nodes

    def settle(self, ok: bool) -> None:
        self._left -= 1
        if not ok or self._left == 0:
            _settle(self._waiters, ok)


class _Gone(Exception):
    """The node no longer serves the slots it was tracked for."""


# What ends a node's tracking for good (its barrier read was redirected:
# a fail-over or a slot move; the cluster cannot serve now).
_NODE_GONE = (
    redis_errors.AskError,  # and MovedError
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
)


class _Node:
    """One Redis node's side of tracking: its invalidation connection, the
    batcher's tracked connection to it, and its barriers (``barrier``: the
    command, packed, made again at each connect)."""

    def __init__(
        self,
        owner: "Tracking",
        name: str,
        connection_class: type[Connection],
        connection_kwargs: dict[str, Any],
        barrier: Callable[[], bytes],
    ) -> None:
        self._owner = owner
        self.name = name
        self._connection_class = connection_class
        self._connection_kwargs = connection_kwargs
        self._timeout: float | None = connection_kwargs.get("socket_timeout")
        self._barrier = barrier
        self._packed_barrier = b""
        self._inv: Connection | None = None
        self._client_id: int | None = None
        self._data: Connection | None = None  # the batcher's connection
        self._data_to: int | None = None  # where its invalidations go
        self._pings: deque[tuple[float, _Barrier]] = deque()
        self._deadlines = OldestDeadline(
            lambda: self._pings[0][0] if self._pings else None, self._pong_late
        )
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._stopping = False
        self._up = asyncio.Event()  # the invalidation connection is up

    def new_connection(self, **overrides: Any) -> Connection:
        """A connection to the node as its client's are made (not connected)."""
        return self._connection_class(**{**self._connection_kwargs, **overrides})

    async def up(self) -> None:
        """Until the invalidation connection is up, for at most the socket
        timeout: a reads' connection opened before it would be opened
        again once it is (the batch on it failing), and on a cluster the
        node would then rest."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout or 1.0):
                await self._up.wait()

    @property
    def reads(self) -> bool:
        """The batcher has a connection to the node: what is kept may be
        made of what it read (when its connection goes, everything kept
        goes)."""
        return self._data is not None

    @property
    def tracked(self) -> bool:
        """Both connections up and the reads' invalidations reach us."""
        return self._client_id is not None and self._data_to == self._client_id

    def ping(self, barrier: _Barrier) -> None:
        writer = self._inv._writer if self._inv is not None else None
        if writer is None or not self.tracked:
            barrier.settle(False)
            return
        deadline = asyncio.get_running_loop().time() + (self._timeout or 5.0)
        self._pings.append((deadline, barrier))
        self._deadlines.added(deadline)
        writer.write(self._packed_barrier)

    def _pong_late(self) -> None:
        """A barrier reply later than the socket timeout ends the
        invalidation connection (what it would have carried may be lost)."""
        log.warning("tracking_pong_late", extra=fields(node=self.name, seconds=self._timeout))
        if self._inv is not None:  # its reader stops, and it connects again
            self._closing = asyncio.get_running_loop().create_task(
                self._inv.disconnect(nowait=True)
            )
        self._lose()

    async def track(self, conn: Connection) -> None:
        """Turn tracking on for the batcher's new connection ``conn``."""
        self._lose_data()
        self._data = conn
        target = self._client_id
        if target is None:
            return  # no invalidations now: the caches stay off until both are up
        await conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", target)
        try:
            await conn.read_response()
        except redis_errors.ResponseError as exc:
            # Refused (an ACL without it): the reads go on, nothing is kept.
            log.error("tracking_refused", extra=fields(node=self.name, error=str(exc)))
            return
        if self._data is conn and self._client_id == target:
            self._data_to = target
            self._owner.untracked()

    def untrack(self, conn: Connection) -> None:
        if self._data is conn:
            self._lose_data()

    def _lose_data(self) -> None:
        self._data, self._data_to = None, None
        self._owner.flush()

    def _lose(self) -> None:
        """The invalidation connection is gone: nothing cached holds."""
        self._client_id = None
        self._up.clear()
        pings, self._pings = self._pings, deque()
        for _, barrier in pings:
            barrier.settle(False)
        self._owner.flush()

    def _take(self, message: Any) -> None:
        if isinstance(message, list) and message and message[0] == "invalidate":
            self._owner.invalidated(message[1])
            return
        # A barrier's reply (PONG, or the count of an EXISTS).
        if self._pings:
            self._pings.popleft()[1].settle(self.tracked and not isinstance(message, Exception))
        if isinstance(message, _NODE_GONE):
            raise _Gone(str(message))
        if isinstance(message, Exception):
            raise message

    async def _connect(self) -> Connection:
        """The invalidation connection: RESP3, where Redis pushes them."""
        self._packed_barrier = self._barrier()
        conn = self.new_connection(protocol=3)
        try:
            await conn.connect()
            await conn.send_command("CLIENT", "ID")
            client_id = await conn.read_response()
        except BaseException:
            await conn.disconnect()
            raise
        self._inv, self._client_id = conn, int(client_id)
        self._up.set()
        log.info("tracking_up", extra=fields(node=self.name, client_id=self._client_id))
        if self._data is not None:
            # Its invalidations went to the connection before: it is
            # opened again, tracked to this one (the batch retries).
            await self._data.disconnect(nowait=True)
        return conn

    async def _read(self, conn: Connection) -> None:
        """Take pushes and barrier replies as they come (the parser's own
        ``read_response`` hands pushes to handlers and waits on)."""
        parser = conn._parser
        assert isinstance(parser, _AsyncHiredisParser)  # hiredis is a dependency
        reader = parser._reader
        while True:
            while (message := reader.gets()) is not NOT_ENOUGH_DATA:
                self._take(message)
            await parser.read_from_socket()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            conn: Connection | None = None
            try:
                conn = await self._connect()
                if self._stopping:
                    # Cancelled while connecting, and the cancellation lost
                    # (asyncio.wait_for in redis-py's writes, Python 3.11).
                    return
                failures = 0
                await self._read(conn)
            except asyncio.CancelledError:
                raise
            except _Gone as exc:
                log.warning("tracking_node_gone", extra=fields(node=self.name, error=str(exc)))
                self._stopping = True
            except Exception as exc:
                log.warning(
                    "tracking_down",
                    extra=fields(node=self.name, error=f"{type(exc).__name__}: {exc}"),
                )
            finally:
                self._lose()
                self._inv = None
                if conn is not None:
                    await conn.disconnect(nowait=True)
            if self._stopping:
                break
            await asyncio.sleep(_RECONNECT_SECONDS[min(failures, len(_RECONNECT_SECONDS) - 1)])
            failures += 1
        self._owner.gone(self)
        if self._data is not None:
            await self._data.disconnect(nowait=True)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._deadlines.cancel()
        if self._data is not None:
            await self._data.disconnect(nowait=True)


class Tracking:
    """The nodes' tracking (one on a single Redis; each master a batch
    reached on a Redis Cluster), the barrier (``fresh``) over all of them,
    and the caches they keep right."""

    def __init__(self, redis: Redis) -> None:
        self._caches: list[TrackedCache[Any]] = []
        self._epoch = 0  # bumped by every invalidation and every loss
        self._lost_at = 0  # the epoch of the last loss (or forgotten invalidation)
        # key -> the epoch of its last invalidation, oldest first
        self._invalidated: OrderedDict[str, int] = OrderedDict()
        self._nodes: dict[str, _Node] = {}
        self._this_turn: list[asyncio.Future[bool]] = []  # waiting for this turn's barrier
        self._started = False
        if is_cluster(redis):
            cluster = cast(RedisCluster, redis)
            self._cluster: RedisCluster | None = cluster
            self.batcher = Batcher(
                redis,
                node_connections=lambda node: _TrackedConnections(lambda: self._node_of(node)),
                untracked=self.untracked,
            )
        else:
            self._cluster = None
            pool = redis.connection_pool
            node = self._add(
                _Node(self, "redis", pool.connection_class, pool.connection_kwargs, lambda: _PING)
            )
            self.batcher = Batcher(redis, _TrackedConnections(lambda: node))

    def cache(self, size: int) -> TrackedCache[Any]:
        made: TrackedCache[Any] = TrackedCache(self, size)
        self._caches.append(made)
        return made

    def _add(self, node: _Node) -> _Node:
        self._nodes[node.name] = node
        if self._started:
            node.start()
        return node

    def _node_of(self, cluster_node: ClusterNode) -> _Node:
        """A cluster master's tracking (made when a batch first reaches it,
        or again after it was dropped)."""
        node = self._nodes.get(cluster_node.name)
        if node is None:
            node = self._add(
                _Node(
                    self,
                    cluster_node.name,
                    cluster_node.connection_class,
                    cluster_node.connection_kwargs,
                    partial(self._barrier_of, cluster_node.name),
                )
            )
        return node

    def _barrier_of(self, name: str) -> bytes:
        """A read of a key in one of ``name``'s slots: a node that no longer
        serves it answers with a redirect, where a PING would still PONG."""
        assert self._cluster is not None
        for n in range(1000):
            key = keys.tracking_barrier(str(n))
            slot = key_slot(key.encode())
            if self._cluster.nodes_manager.get_node_from_slot(slot).name == name:
                # hiredis's stub types the argument as a tuple of one element.
                packed: bytes = pack_command(("EXISTS", key))  # type: ignore[arg-type]
                return packed
        raise _Gone(f"{name} serves no slot")

    def gone(self, node: _Node) -> None:
        """``node`` stopped for good (dropped, or the whole tracking stops)."""
        if self._nodes.get(node.name) is node:
            del self._nodes[node.name]
        self.flush()

    @property
    def usable(self) -> bool:
        """Reads are tracked: every node the batcher reads from has both
        connections up, its reads' invalidations reaching us. A node it
        does not read from (no longer a master, or not reached since its
        connection went) holds nothing kept and does not count."""
        reading = False
        for node in self._nodes.values():
            if node.reads:
                if not node.tracked:
                    return False
                reading = True
        return reading

    def token(self) -> int:
        return self._epoch

    def current(self, token: int, keys: Sequence[str]) -> bool:
        """Whether nothing was lost, and none of ``keys`` invalidated, since
        ``token``."""
        if not self.usable or token < self._lost_at:
            return False
        invalidated = self._invalidated
        return all(invalidated.get(key, -1) <= token for key in keys)

    async def fresh(self) -> bool:
        """Whether the caches now hold nothing older than any write that
        completed before this call (False: tracking is down, read Redis)."""
        if not self.usable:
            return False
        waiter = asyncio.get_running_loop().create_future()
        if not self._this_turn:
            asyncio.get_running_loop().call_soon(self._ping)
        self._this_turn.append(waiter)
        synced: bool = await waiter
        return synced

    def _ping(self) -> None:
        waiters, self._this_turn = self._this_turn, []
        nodes = [node for node in self._nodes.values() if node.reads]
        if not nodes:
            _settle(waiters, False)
            return
        barrier = _Barrier(waiters, len(nodes))
        for node in nodes:
            node.ping(barrier)

    def untracked(self) -> None:
        """A read went around the tracked connections (or one was opened):
        nothing read before now is kept."""
        self._epoch += 1
        self._lost_at = self._epoch

    def flush(self) -> None:
        self.untracked()
        self._invalidated.clear()
        for cache in self._caches:
            cache.invalidate(None)

    def invalidated(self, keys: Sequence[str] | None) -> None:
        """Redis says ``keys`` changed (None: everything, a flush)."""
        if keys is None:
            self.flush()
            return
        self._epoch += 1
        self._remember(keys)
        for cache in self._caches:
            cache.invalidate(keys)

    def _remember(self, keys: Sequence[str]) -> None:
        invalidated = self._invalidated
        for key in keys:
            invalidated[key] = self._epoch
            invalidated.move_to_end(key)
        while len(invalidated) > _REMEMBERED_INVALIDATIONS:
            self._lost_at = invalidated.popitem(last=False)[1]

    def start(self) -> None:
        self._started = True
        for node in self._nodes.values():
            node.start()

    async def stop(self) -> None:
        self._started = False
        for node in list(self._nodes.values()):
            await node.stop()


def _settle(waiters: list[asyncio.Future[bool]], result: bool) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(result)
