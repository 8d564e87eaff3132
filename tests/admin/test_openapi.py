"""The OpenAPI document describes what is served, and a property-based run
of every operation in it (schemathesis, bounded examples) finds no server
error and no answer that breaks the document."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from redis.asyncio import Redis
from schemathesis.core.result import Err

from services.admin.app import api_routes
from services.admin.routes import PREFIX
from tests.support.admin import AdminStack, admin_stack
from tests.support.redis_server import RedisServer

# The event stream never ends: it has its own test (test_actions).
_ENDLESS = f"{PREFIX}/events"
_EXAMPLES = 25


async def test_the_document_names_every_api_route_and_only_those(admin: AdminStack) -> None:
    async with admin.with_token("root") as script:
        document = await script.call("GET", "/api/v1/openapi.json", 200)
    served = {
        (r.method, r.resource.canonical)
        for r in admin.admin_app_routes()
        if r.resource is not None and r.resource.canonical.startswith(PREFIX)
    }
    described = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    assert document["openapi"] == "3.1.0"
    assert described == served
    assert len(described) == len(api_routes())


def _run(url: str, token: str) -> list[str]:
    """Every operation, _EXAMPLES cases each; the failures' descriptions."""
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.exclude(path=_ENDLESS).get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the document: {result.err()}")
            continue
        operation = result.ok()

        @hypothesis.settings(
            max_examples=_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(base_url=url, headers=headers)

        try:
            check()
        # Every failure of every operation, reported at once.
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    return failures


@pytest.fixture
async def quiet_admin(redis: Redis, redis_server: RedisServer) -> AsyncIterator[AdminStack]:
    """The webhooks the run registers name made-up hosts: the feed looks
    once at its start, then not for an hour, so nothing is delivered to
    them (the tests reach loopback addresses only)."""
    async with admin_stack(redis_server.url, webhook_poll_seconds=3600) as s:
        yield s


async def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    quiet_admin: AdminStack,
) -> None:
    admin = quiet_admin
    async with admin.signed_in("root") as console:
        token = (await console.call("POST", "/api/v1/tokens", 201, {"label": "fuzz"}))["token"]
    # schemathesis calls synchronously: from a thread, while this loop serves.
    failures = await asyncio.to_thread(_run, admin.url, token)
    assert not failures, "\n\n".join(failures)
