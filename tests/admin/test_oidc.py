"""Operators signed in by an identity provider: the provider's JWT, as a
bearer token, acts as the operator account it names (its role, its
tenants), and every token the provider did not sign for this service, or
signed badly, is refused. Keys are real (RSA and EC, made here), the JWKS
comes from a file or from a real HTTP server on loopback."""

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from prometheus_client import REGISTRY
from pydantic import ValidationError
from redis.asyncio import Redis

from services.admin.settings import AdminSettings
from tests.support.admin import AdminStack, admin_stack
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer

ISSUER = "https://idp.example.test/realms/ops"
AUDIENCE = "hotdesk-admin"


@dataclass
class Key:
    kid: str
    private: Any
    alg: str

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        document: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return document | {"kid": self.kid, "use": "sig", "alg": self.alg}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": self.kid} | header
        )


def rsa_key(kid: str) -> Key:
    return Key(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")


def ec_key(kid: str) -> Key:
    return Key(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")


def claims(operator: str = "gx-admin", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "3f7c0d2e-idp-subject",
        "preferred_username": operator,
        "iat": now,
        "exp": now + 300,
    } | overrides


@dataclass
class Provider:
    keys: list[Key] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.keys]}


@dataclass
class Served:
    document: dict[str, Any]
    fetches: int = 0


@pytest.fixture
def provider() -> Provider:
    return Provider([rsa_key("rsa-1"), ec_key("ec-1")])


@pytest.fixture
def jwks_path(tmp_path: Path, provider: Provider) -> Iterator[Path]:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(provider.jwks()))
    yield path


@pytest.fixture
async def admin_oidc(
    redis: Redis, redis_server: RedisServer, jwks_path: Path
) -> AsyncIterator[AdminStack]:
    async with admin_stack(
        redis_server.url, oidc_issuer=ISSUER, oidc_jwks_file=str(jwks_path)
    ) as s:
        yield s


async def call(url: str, token: str, method: str, path: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(url, headers=headers) as http, http.request(method, path) as r:
        return r.status, await r.json()


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
async def test_a_provider_token_acts_as_the_operator_it_names(
    admin_oidc: AdminStack, provider: Provider, kid: str
) -> None:
    (key,) = [k for k in provider.keys if k.kid == kid]
    token = key.sign(claims("gx-admin"))
    assert await call(admin_oidc.url, token, "GET", "/api/v1/me") == (
        200,
        {"name": "gx-admin", "role": "tenant_admin", "tenants": ["globex"]},
    )
    status, devices = await call(admin_oidc.url, token, "GET", "/api/v1/devices")
    assert status == 200 and [d["device_id"] for d in devices["items"]] == ["gx4001"]
    # Its scope is the account's: acme's device does not exist for it.
    assert (await call(admin_oidc.url, token, "GET", "/api/v1/devices/hd3001"))[0] == 404


async def test_a_provider_token_acts_without_csrf_and_is_audited(
    admin_oidc: AdminStack, provider: Provider
) -> None:
    await admin_oidc.stack.login("hd3001", "1001")
    token = provider.keys[0].sign(claims("acme-admin"))
    status, outcome = await call(admin_oidc.url, token, "POST", "/api/v1/devices/hd3001/logout")
    assert status == 200 and outcome["result"] == "logged_out"
    status, trail = await call(
        admin_oidc.url, token, "GET", "/api/v1/audit?event=admin_logout&device=hd3001"
    )
    assert [e["actor"] for e in trail["items"]] == ["service:admin/acme-admin"]


def _forged(provider: Provider) -> dict[str, str]:
    """Tokens the service must refuse, each for one reason."""
    rsa_1 = provider.keys[0]
    stranger = rsa_key("rsa-1")  # the provider's key id, another key
    public_pem = (
        rsa_1.private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    now = int(time.time())
    no_exp = claims()
    del no_exp["exp"]
    return {
        "expired": rsa_1.sign(claims(exp=now - 120, iat=now - 600)),
        "not yet valid": rsa_1.sign(claims(nbf=now + 600)),
        "other audience": rsa_1.sign(claims(aud="another-app")),
        "other issuer": rsa_1.sign(claims(iss="https://evil.example.test")),
        "no expiry": rsa_1.sign(no_exp),
        "no operator claim": rsa_1.sign(claims() | {"preferred_username": None}),
        "no such operator": rsa_1.sign(claims("nobody")),
        "signed by another key": stranger.sign(claims("root")),
        "unknown key id": rsa_key("rsa-9").sign(claims("root")),
        "RSA key claimed as EC": jwt.encode(
            claims("root"), ec_key("x").private, algorithm="ES256", headers={"kid": "rsa-1"}
        ),
        # The public key used as an HMAC secret (algorithm confusion).
        "HS256 with the public key": _hs256(claims("root"), public_pem.encode(), "rsa-1"),
        "alg none": _unsigned(claims("root"), "rsa-1"),
        "tampered payload": _tampered(rsa_1.sign(claims("gx-admin"))),
        "not a JWT": "a.b.c",
    }


def _b64(data: bytes) -> str:
    return jwt.utils.base64url_encode(data).decode()


def _hs256(payload: dict[str, Any], secret: bytes, kid: str) -> str:
    """Made by hand: PyJWT itself refuses a PEM key as an HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(signature)}"


def _unsigned(payload: dict[str, Any], kid: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{_b64(json.dumps(claims('root')).encode())}.{signature}"


async def test_every_forged_or_wrong_token_is_refused(
    admin_oidc: AdminStack, provider: Provider
) -> None:
    # The good one first: the refusals below are not a broken set-up.
    good = provider.keys[0].sign(claims("root"))
    assert (await call(admin_oidc.url, good, "GET", "/api/v1/me"))[0] == 200
    before = _outcomes()
    forged = _forged(provider)
    answered = {
        reason: (await call(admin_oidc.url, token, "GET", "/api/v1/me"))[0]
        for reason, token in forged.items()
    }
    assert answered == {reason: 401 for reason in answered}
    # Each was refused by the token check itself, except the well-signed
    # token of an operator who does not exist here.
    counted = {k: v - before.get(k, 0) for k, v in _outcomes().items() if v != before.get(k, 0)}
    assert counted.pop("accepted") == 1
    assert sum(counted.values()) == len(forged) - 1
    assert {"expired", "wrong_issuer_or_audience", "algorithm", "unknown_key"} <= set(counted)


def _outcomes() -> dict[str, float]:
    """hotdesk_admin_oidc_tokens_total by result (this process's registry:
    the service runs in the test's process)."""
    (family,) = [m for m in REGISTRY.collect() if m.name == "hotdesk_admin_oidc_tokens"]
    return {s.labels["result"]: s.value for s in family.samples if s.name.endswith("_total")}


async def test_without_a_provider_configured_a_jwt_is_refused(
    admin: AdminStack, provider: Provider
) -> None:
    token = provider.keys[0].sign(claims("root"))
    assert (await call(admin.url, token, "GET", "/api/v1/me"))[0] == 401


async def test_keys_from_a_url_follow_the_providers_rotation(
    redis: Redis, redis_server: RedisServer, provider: Provider
) -> None:
    served = Served(provider.jwks())

    async def jwks(_: web.Request) -> web.Response:
        served.fetches += 1
        return web.json_response(served.document)

    app = web.Application()
    app.router.add_get("/certs", jwks)
    port = free_port()
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with admin_stack(
            redis_server.url,
            oidc_issuer=ISSUER,
            oidc_jwks_url=f"http://127.0.0.1:{port}/certs",
            oidc_jwks_min_refetch_seconds=0,
        ) as s:
            old, new = provider.keys[0], rsa_key("rsa-2")
            assert (await call(s.url, old.sign(claims("root")), "GET", "/api/v1/me"))[0] == 200
            fetched = served.fetches
            # The provider rotates: the new key is published, the old withdrawn.
            served.document = Provider([new]).jwks()
            assert (await call(s.url, new.sign(claims("root")), "GET", "/api/v1/me"))[0] == 200
            assert served.fetches == fetched + 1
            assert (await call(s.url, old.sign(claims("root")), "GET", "/api/v1/me"))[0] == 401
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"oidc_issuer": ISSUER}, "exactly one of"),
        (
            {"oidc_issuer": ISSUER, "oidc_jwks_file": "/k.json", "oidc_jwks_url": "https://x/k"},
            "exactly one of",
        ),
        ({"oidc_issuer": ISSUER, "oidc_jwks_url": "http://idp.example.test/certs"}, "https"),
    ],
)
def test_a_half_configured_provider_is_refused_at_start(
    settings: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        AdminSettings.model_validate(settings)
