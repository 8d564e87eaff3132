from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.kernel.redis_conn import connect
from tests.support.clock import FakeClock
from tests.support.provision import Stack, provision_stack
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session; tests flush it (see ``redis``)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), fsync="everysec")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, for tests that restart or kill it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = connect(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def stack(redis: Redis, redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The provision service (and the binding and auth services it calls)
    in-process over the session's Redis, with the demo directory."""
    async with provision_stack(redis_server.url) as s:
        yield s


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``waits`` first (pytest-xdist hands out whole files in
    this order): one worker spends their minutes of waiting while the other
    runs the rest, instead of both finishing with one of them waiting."""
    items.sort(key=lambda item: item.get_closest_marker("waits") is None)
