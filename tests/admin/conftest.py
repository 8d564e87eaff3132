import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from services.admin.credentials import ApiTokens
from services.admin.operators import Operator, OperatorStore, Role
from services.devstack.redis_acl import ADMIN_USER
from services.kernel.redis_conn import connect
from tests.support.admin import AdminStack, admin_stack
from tests.support.edge import Edge, edge_stack
from tests.support.redis_server import RedisServer
from tests.support.service_process import ServiceProcess


@pytest.fixture
async def admin(redis: Redis, redis_server: RedisServer) -> AsyncIterator[AdminStack]:
    """The admin service over binding, auth and provision, demo directory,
    one operator of each role (tests.support.admin.OPERATORS)."""
    async with admin_stack(redis_server.url) as s:
        yield s


@dataclass(frozen=True)
class EdgeAdmin:
    edge: Edge
    url: str  # the admin service's
    token: str  # an API token of acme's tenant admin
    root_password: str  # the platform admin "root"'s


async def _operators(edge: Edge, root_password: str) -> str:
    """A platform admin (root) and a tenant admin of acme with an API token
    (returned), made as the admin's Redis user."""
    redis = connect(
        edge.redis.url_as(ADMIN_USER), password_file=edge.redis.password_file(ADMIN_USER)
    )
    try:
        store = OperatorStore(redis, OperatorStore.hasher(1, 8, 1))
        await store.put(Operator("root", Role.PLATFORM_ADMIN, ()), root_password)
        await store.put(Operator("acme-admin", Role.TENANT_ADMIN, ("acme",)), "a long password")
        token, _ = await ApiTokens(redis).create("acme-admin", "test")
        return token
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
def edge_with_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeAdmin]:
    """The SIP edge, and the admin service as a process of its own over it
    (as in make run)."""
    root = tmp_path_factory.mktemp("admin-edge")
    with edge_stack(root) as edge:
        admin = ServiceProcess(
            "admin",
            edge.redis.url_as(ADMIN_USER),
            root / "admin.log",
            ("grpc", "http"),
            {
                "HOTDESK_ADMIN_BINDING_ADDRESS": edge.binding.grpc_address,
                "HOTDESK_ADMIN_AUTH_ADDRESS": edge.auth.grpc_address,
            },
            redis_password_file=edge.redis.password_file(ADMIN_USER),
        )
        admin.start()
        try:
            password = secrets.token_urlsafe(16)
            token = asyncio.run(_operators(edge, password))
            yield EdgeAdmin(edge, f"http://127.0.0.1:{admin.ports['http']}", token, password)
        finally:
            admin.stop()
