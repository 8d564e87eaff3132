"""Script calls answered only once replicas hold their writes (Redis WAIT).

WAIT counts the replicas that acknowledged every write made *on its own
connection*, so the script call and the WAIT go in one pipeline on one
connection to the master of the keys' slot: the single Redis's own client,
or in a Redis Cluster a plain client of that master (the cluster client
would send WAIT to every master, on other connections). After a fail-over
that master refuses the connection or answers MOVED, neither of which ran
the script: the cluster's map is refreshed and the call goes to the new
master.
"""

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError, MovedError, NoScriptError

from services.kernel.logs import fields

log = logging.getLogger(__name__)

# Tries after a fail-over was seen (connection refused, MOVED).
_ATTEMPTS = 4
# After a shortfall (a master without its replica, as after a fail-over
# until the old master returns), changes on that master skip WAIT this long
# instead of each waiting the whole timeout.
DEGRADED_SECONDS = 10.0


class ReplicatedScripts:
    def __init__(
        self,
        redis: Redis,
        replicas: int,
        timeout_ms: int,
        on_shortfall: Callable[[], None] = lambda: None,
    ) -> None:
        """``replicas``: how many must acknowledge (0: no WAIT at all);
        ``on_shortfall`` is called for each change fewer acknowledged within
        ``timeout_ms`` (keep it below the connection's socket timeout)."""
        self._redis = redis
        self._replicas = replicas
        self._timeout_ms = timeout_ms
        self._on_shortfall = on_shortfall
        self._masters: dict[str, Redis] = {}
        self._degraded_until: dict[int, float] = {}  # by id() of the master's client

    async def call(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if self._replicas == 0:
            return await script(keys=keys, args=args)
        cluster = self._redis if isinstance(self._redis, RedisCluster) else None
        for attempt in range(1, _ATTEMPTS + 1):
            client = self._redis if cluster is None else self._master(cluster, keys[0])
            if self._degraded_until.get(id(client), 0.0) > time.monotonic():
                self._on_shortfall()
                return await script(keys=keys, args=args)
            try:
                result, acknowledged = await self._call_and_wait(client, script, keys, args)
            except (MovedError, ConnectionError) as exc:
                if cluster is None or attempt == _ATTEMPTS:
                    raise
                log.info("redis_master_moved", extra=fields(error=str(exc), attempt=attempt))
                await cluster.nodes_manager.initialize()
                continue
            if acknowledged < self._replicas:
                self._on_shortfall()
                self._degraded_until[id(client)] = time.monotonic() + DEGRADED_SECONDS
                log.warning(
                    "redis_write_unreplicated",
                    extra=fields(
                        wanted=self._replicas,
                        acknowledged=acknowledged,
                        key=keys[0],
                        skip_wait_seconds=DEGRADED_SECONDS,
                    ),
                )
            return result
        raise AssertionError("unreachable")

    async def _call_and_wait(
        self, client: Redis, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]
    ) -> tuple[Any, int]:
        for loaded in (False, True):
            try:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                    pipe.execute_command("WAIT", self._replicas, self._timeout_ms)
                    result, acknowledged = await pipe.execute()
                    return result, int(acknowledged)
            except NoScriptError:
                if loaded:
                    raise
                await client.script_load(script.script)
        raise AssertionError("unreachable")

    def _master(self, cluster: RedisCluster, key: str) -> Redis:
        node = cluster.get_node_from_key(key)
        client = self._masters.get(node.name)
        if client is None:
            kw = node.connection_kwargs
            tls: dict[str, Any] = {}
            if kw.get("connection_class") is SSLConnection:
                tls = {"ssl": True, "ssl_ca_certs": kw.get("ssl_ca_certs")}
            client = Redis(
                host=node.host,
                port=node.port,
                username=kw.get("username"),
                password=kw.get("password"),
                decode_responses=True,
                socket_timeout=kw.get("socket_timeout"),
                socket_connect_timeout=kw.get("socket_connect_timeout"),
                **tls,
            )
            self._masters[node.name] = client
        return client

    async def aclose(self) -> None:
        for client in self._masters.values():
            await client.aclose()
        self._masters.clear()
