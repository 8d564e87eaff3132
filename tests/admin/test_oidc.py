"""OIDC bearer tokens: JWTs signed by the test's own RS256 and ES256 keys
(JWKS in a file, or served on 127.0.0.1) count as the operator their
claims name; a wrong issuer, audience, key, algorithm or an expired token
does not."""

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from redis.asyncio import Redis

from tests.support.admin import AdminStack, admin_stack
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer

ISSUER = "https://idp.invalid/realms/hotdesk"
AUDIENCE = "hotdesk-admin"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> dict[str, Any]:
    rsa_jwk = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
    ec_jwk = ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True)
    return {
        "keys": [
            rsa_jwk | {"kid": "rsa-1", "use": "sig", "alg": "RS256"},
            ec_jwk | {"kid": "ec-1", "use": "sig", "alg": "ES256"},
        ]
    }


def token(roles: list[str], name: str = "dana", **changes: Any) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 300,
        "preferred_username": name,
        "hotdesk_roles": roles,
    }
    claims |= {k: v for k, v in changes.items() if k not in ("key", "alg", "kid")}
    key = changes.get("key", RSA_KEY)
    alg = changes.get("alg", "RS256")
    kid = changes.get("kid", "rsa-1")
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


async def as_bearer(admin: AdminStack, bearer: str, path: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {bearer}"}
    async with aiohttp.ClientSession(admin.url, headers=headers) as http, http.get(path) as r:
        return r.status, await r.json()


@pytest.fixture
async def admin(
    redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[AdminStack]:
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks()))
    async with admin_stack(
        redis_server.url, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_file=str(keys)
    ) as s:
        yield s


async def test_a_signed_token_is_the_operator_its_claims_name(admin: AdminStack) -> None:
    status, me = await as_bearer(admin, token(["tenant_admin:globex"]), "/api/v1/me")
    assert (status, me) == (200, {"name": "dana", "role": "tenant_admin", "tenants": ["globex"]})
    ec_token = token(["platform_admin"], "erin", key=EC_KEY, alg="ES256", kid="ec-1")
    status, me = await as_bearer(admin, ec_token, "/api/v1/me")
    assert (status, me["role"]) == (200, "platform_admin")
    # Scoped as any tenant admin: globex's desks only.
    status, board = await as_bearer(admin, token(["tenant_admin:globex"]), "/api/v1/devices")
    assert status == 200 and [d["device_id"] for d in board["items"]] == ["gx4001"]
    # The highest role counts: helpdesk of acme and tenant admin of globex.
    status, me = await as_bearer(
        admin, token(["helpdesk:acme", "tenant_admin:globex"]), "/api/v1/me"
    )
    assert (me["role"], me["tenants"]) == ("tenant_admin", ["globex"])
    # The project's own API tokens still work beside them.
    async with admin.with_token("acme-admin") as script:
        assert (await script.call("GET", "/api/v1/me", 200))["name"] == "acme-admin"


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://elsewhere.invalid"},
        {"aud": "another-api"},
        {"exp": int(time.time()) - 60},
        {"key": OTHER_KEY},
        {"kid": "unknown"},
        {"key": "a shared secret of enough length", "alg": "HS256"},
    ],
    ids=["issuer", "audience", "expired", "other-key", "unknown-kid", "hs256"],
)
async def test_a_token_that_does_not_count_is_401(
    admin: AdminStack, changes: dict[str, Any]
) -> None:
    status, body = await as_bearer(admin, token(["platform_admin"], **changes), "/api/v1/me")
    assert status == 401, body


@pytest.mark.parametrize(
    ("roles", "name"),
    [
        ([], "dana"),
        (["nobody:acme"], "dana"),
        (["tenant_admin"], "dana"),
        (["platform_admin"], "Bad Name"),
    ],
)
async def test_claims_without_a_role_or_a_valid_name_are_401(
    admin: AdminStack, roles: list[str], name: str
) -> None:
    status, _ = await as_bearer(admin, token(roles, name), "/api/v1/me")
    assert status == 401


async def test_the_jwks_from_a_url(redis: Redis, redis_server: RedisServer) -> None:
    async def serve(request: web.Request) -> web.Response:
        return web.json_response(jwks())

    app = web.Application()
    app.router.add_get("/certs", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with admin_stack(
            redis_server.url,
            oidc_issuer=ISSUER,
            oidc_audience=AUDIENCE,
            oidc_jwks_url=f"http://127.0.0.1:{port}/certs",
        ) as admin:
            ec_token = token(["helpdesk:acme"], key=EC_KEY, alg="ES256", kid="ec-1")
            status, me = await as_bearer(admin, ec_token, "/api/v1/me")
            assert (status, me["role"], me["tenants"]) == (200, "helpdesk", ["acme"])
            status, _ = await as_bearer(
                admin, token(["helpdesk:acme"], key=OTHER_KEY), "/api/v1/me"
            )
            assert status == 401
    finally:
        await runner.cleanup()
