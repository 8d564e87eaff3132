"""One way to open Redis: redis.asyncio with retries, so that a Redis
restart is ridden out by reconnecting instead of by restarting the service."""

from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError


def connect(
    url: str,
    *,
    password_file: Path | None = None,
    ca_file: Path | None = None,
    socket_timeout: float = 2.0,
) -> "Redis":
    """``url`` names the ACL user (``redis://binding@host:6379/0``); its
    password is read from ``password_file`` (never in the URL or logs);
    ``rediss://`` with ``ca_file`` speaks TLS."""
    extra: dict[str, object] = {}
    if password_file is not None:
        extra["password"] = password_file.read_text().strip()
    if ca_file is not None:
        extra["ssl_ca_certs"] = str(ca_file)
    return Redis.from_url(
        url,
        **extra,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.02), retries=8),
        retry_on_error=[ConnectionError, TimeoutError, BusyLoadingError],
    )
