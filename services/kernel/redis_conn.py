"""One way to open Redis: redis.asyncio with retries, so that a Redis
restart is ridden out by reconnecting instead of by restarting the service."""

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError


def connect(url: str, *, socket_timeout: float = 2.0) -> "Redis":
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.02), retries=8),
        retry_on_error=[ConnectionError, TimeoutError, BusyLoadingError],
    )
