"""One way to open Redis: redis.asyncio with retries, so that a Redis
restart (or a Redis Cluster fail-over) is ridden out by reconnecting
instead of by restarting the service.

A single Redis or a Redis Cluster: the services hold either as ``Redis``.
``RedisCluster`` offers the same commands (it routes each by its key's
slot, splits pipelines per node and runs a transaction in one slot); the
services use only what both have, keep every script and transaction in one
hash tag (``services.kernel.keys``), and read many streams per slot where
one command cannot span slots (``is_cluster``). The same tests run on both.
"""

from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError


class _Cluster(RedisCluster):  # type: ignore[misc]  # redis.asyncio.RedisCluster is untyped here
    """A Redis Cluster client that routes EVALSHA_RO and EVAL_RO by the keys
    their ``numkeys`` names, as redis-py does for EVALSHA and EVAL. It asks
    a node ``COMMAND GETKEYS`` first for any other command whose keys move
    (a round trip before every read-only script: every device file)."""

    async def _determine_slot(self, command: str, *args: Any) -> int:
        name = command.upper()
        if name in ("EVALSHA_RO", "EVAL_RO"):
            command = name.removesuffix("_RO")
        slot: int = await super()._determine_slot(command, *args)
        return slot


def connect(
    url: str,
    *,
    cluster: bool = False,
    password_file: Path | None = None,
    ca_file: Path | None = None,
    socket_timeout: float = 2.0,
) -> "Redis":
    """``url`` names the ACL user (``redis://binding@host:6379/0``); its
    password is read from ``password_file`` (never in the URL or logs);
    ``rediss://`` with ``ca_file`` speaks TLS. With ``cluster``, ``url`` is
    any node of a Redis Cluster (the client learns the others from it)."""
    extra: dict[str, Any] = {}
    if password_file is not None:
        extra["password"] = password_file.read_text().strip()
    if ca_file is not None:
        extra["ssl_ca_certs"] = str(ca_file)
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.02), retries=8)
    common: dict[str, Any] = dict(
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=retry,
    )
    if cluster:
        client = _Cluster.from_url(url, **extra, **common)
        return cast(Redis, client)
    return Redis.from_url(
        url,
        **extra,
        **common,
        health_check_interval=10,
        retry_on_error=[ConnectionError, TimeoutError, BusyLoadingError],
    )


def is_cluster(redis: "Redis") -> bool:
    return isinstance(redis, RedisCluster)
