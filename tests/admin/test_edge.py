"""A forced logout through the admin API is what the SIP edge obeys: the
real Kamailio, binding and auth services (each as its own process and
Redis user), the admin service as a process of its own as in make run."""

import asyncio
import json
import urllib.request
from collections.abc import Iterator

import pytest

from services.admin.credentials import ApiTokens
from services.admin.operators import Operator, OperatorStore, Role
from services.devstack.redis_acl import ADMIN_USER
from services.kernel.redis_conn import connect
from tests.support.edge import Edge, edge_stack
from tests.support.service_process import ServiceProcess


async def _token(edge: Edge) -> str:
    """An API token of a tenant admin of acme, made as the admin's Redis user."""
    redis = connect(
        edge.redis.url_as(ADMIN_USER), password_file=edge.redis.password_file(ADMIN_USER)
    )
    try:
        store = OperatorStore(redis, OperatorStore.hasher(1, 8, 1))
        await store.put(Operator("acme-admin", Role.TENANT_ADMIN, ("acme",)), "a long password")
        token, _ = await ApiTokens(redis).create("acme-admin", "test")
        return token
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
def edge_with_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Edge, str, str]]:
    """The edge, the admin API's URL and an acme admin's token."""
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
            token = asyncio.run(_token(edge))
            yield edge, f"http://127.0.0.1:{admin.ports['http']}", token
        finally:
            admin.stop()


def _post(url: str, token: str) -> dict[str, object]:
    request = urllib.request.Request(
        url, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        reply: dict[str, object] = json.loads(answer.read())
        return reply


def test_after_a_forced_logout_calls_to_the_user_get_480(
    edge_with_admin: tuple[Edge, str, str],
) -> None:
    edge, url, token = edge_with_admin
    edge.logout_all()
    edge.login("hd3001", "1001")
    edge.login("hd3002", "1002")
    phone = edge.phone("bob-at-hd3002", "hd3002")
    before = edge.call("alice-to-bob", "hd3001", "1002")
    assert before.run() == 0 and before.final_status() == 200, before.messages
    assert phone.wait() == 0
    outcome = _post(f"{url}/api/v1/users/acme/1002/logout", token)
    assert outcome["result"] == "logged_out"
    after = edge.call("alice-to-bob-again", "hd3001", "1002")
    assert after.run() == 0
    assert after.final_status() == 480
