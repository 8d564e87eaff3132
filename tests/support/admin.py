"""The admin service in-process for tests, over the provisioning stack
(binding, auth, provision on one real Redis with the demo directory), with
operators of each role, and an HTTP client that signs in."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from services.admin.credentials import ApiTokens
from services.admin.operators import Operator, Role
from services.admin.service import AdminService, start_admin_service
from services.admin.settings import AdminSettings
from tests.support import pki
from tests.support.provision import Stack, provision_stack
from tests.support.secrets import webhook_key_file

CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 8, "argon2_parallelism": 1}
# The operators every admin test has: name -> (role, tenants).
OPERATORS = {
    "root": (Role.PLATFORM_ADMIN, ()),
    "gx-admin": (Role.TENANT_ADMIN, ("globex",)),
    "acme-admin": (Role.TENANT_ADMIN, ("acme",)),
    "acme-help": (Role.HELPDESK, ("acme",)),
}


def admin_settings(stack: Stack, redis_url: str, **overrides: object) -> AdminSettings:
    return AdminSettings.model_validate(
        {
            **CHEAP_ARGON2,
            **pki.tls_settings("service:admin"),
            "redis_url": redis_url,
            "grpc_port": 0,
            "ops_port": 0,
            "http_port": 0,
            "binding_address": f"127.0.0.1:{stack.binding.grpc_port}",
            "auth_address": f"127.0.0.1:{stack.auth.grpc_port}",
            "provision_address": f"127.0.0.1:{stack.provision.grpc_port}",
            "shutdown_grace_seconds": 1,
            "events_keepalive_seconds": 0.5,
            "webhook_key_file": str(webhook_key_file()),
            "webhook_backoff_seconds": 0.05,
            **overrides,
        }
    )


@dataclass
class AdminStack:
    stack: Stack
    admin: AdminService
    passwords: dict[str, str]

    @property
    def url(self) -> str:
        return self.admin.base_url

    async def token_file(self, name: str, directory: Path) -> Path:
        """A new API token of ``name`` in a file of mode 600 (as the CLI reads it)."""
        token, _ = await ApiTokens(self.admin.redis).create(name, "test")
        path = directory / f"{name}.token"
        path.write_text(token + "\n")
        path.chmod(0o600)
        return path

    def admin_app_routes(self) -> list[web.AbstractRoute]:
        return self.admin.http_routes()

    @asynccontextmanager
    async def signed_in(self, name: str) -> AsyncIterator[Console]:
        """A browser-like client signed in as ``name`` (cookie + CSRF token)."""
        async with browser(self.url) as http:
            async with http.post(
                "/api/v1/session", json={"name": name, "password": self.passwords[name]}
            ) as r:
                assert r.status == 200, await r.text()
                csrf = (await r.json())["csrf_token"]
            yield Console(http, {"X-CSRF-Token": csrf})

    @asynccontextmanager
    async def with_token(self, name: str) -> AsyncIterator[Console]:
        """A script's client: an API token of ``name``, no cookie."""
        async with self.signed_in(name) as console:
            token = (await console.call("POST", "/api/v1/tokens", 201, {"label": "test"}))["token"]
        async with aiohttp.ClientSession(
            self.url, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            yield Console(http, {})


def browser(url: str) -> aiohttp.ClientSession:
    """An HTTP client that keeps cookies (of 127.0.0.1 too, as a browser does)."""
    return aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True))


@dataclass
class Console:
    http: aiohttp.ClientSession
    headers: dict[str, str]

    async def call(self, method: str, path: str, status: int, body: Any = None) -> Any:
        async with self.http.request(method, path, json=body, headers=self.headers) as r:
            text = await r.text()
            assert r.status == status, f"{method} {path}: {r.status} {text}"
            return await r.json() if r.content_type == "application/json" else text


@asynccontextmanager
async def admin_instance(
    stack: Stack, redis_url: str, **overrides: object
) -> AsyncIterator[AdminService]:
    """One more admin service over ``stack``: several instances share a
    Redis, or one stops while the rest of the stack goes on."""
    admin = await start_admin_service(admin_settings(stack, redis_url, **overrides))
    try:
        yield admin
    finally:
        await admin.stop()


@asynccontextmanager
async def admin_stack(
    redis_url: str, admin_redis_url: str | None = None, **overrides: object
) -> AsyncIterator[AdminStack]:
    """The stack on ``redis_url``; the admin service on ``admin_redis_url``
    (its own ACL user) if given."""
    async with provision_stack(redis_url) as stack:
        admin = await start_admin_service(
            admin_settings(stack, admin_redis_url or redis_url, **overrides)
        )
        passwords = {}
        try:
            for name, (role, tenants) in OPERATORS.items():
                passwords[name] = secrets.token_urlsafe(16)
                await admin.operators.put(Operator(name, role, tenants), passwords[name])
            yield AdminStack(stack, admin, passwords)
        finally:
            await admin.stop()
