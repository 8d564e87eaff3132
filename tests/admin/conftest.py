from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.support.admin import AdminStack, admin_stack
from tests.support.redis_server import RedisServer


@pytest.fixture
async def admin(redis: Redis, redis_server: RedisServer) -> AsyncIterator[AdminStack]:
    """The admin service over binding, auth and provision, demo directory,
    one operator of each role (tests.support.admin.OPERATORS)."""
    async with admin_stack(redis_server.url) as s:
        yield s
