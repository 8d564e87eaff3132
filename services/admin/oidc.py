"""Operators signed in by their own identity provider (OpenID Connect).

A JWT the provider issued (an access or ID token), sent as
``Authorization: Bearer``, names an operator account that exists here; that
account's role and tenants apply, exactly as for a password or an API
token. The provider proves who the operator is; this service still decides
what the operator may do, and a deleted or changed account counts at once.

Only asymmetric signatures are accepted (RSA, RSA-PSS, ECDSA), with keys
from the provider's JWKS: a file, or a URL read at start, every
``jwks_refresh_seconds``, and when a token names a key not seen yet (at
most once per ``jwks_min_refetch_seconds``, so forged key ids cannot make
this service hammer the provider). ``iss``, ``aud`` and ``exp`` are
required and checked; ``nbf`` and ``iat`` when present.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from prometheus_client import Counter

from services.kernel.logs import fields

log = logging.getLogger(__name__)

# Which signature algorithms go with which key type; "none" and the
# shared-secret HMAC family are never accepted.
ALGORITHMS: dict[str, frozenset[str]] = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512"}),
}

TOKENS = Counter(
    "hotdesk_admin_oidc_tokens_total",
    "Identity-provider tokens presented, by outcome (accepted, or why refused)",
    ["result"],
)


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    operator_claim: str
    leeway_seconds: int
    jwks_refresh_seconds: float
    jwks_min_refetch_seconds: float


class Refused(Exception):
    """A token this service does not accept; the message says why (for
    the log and the metric, never for the caller)."""


JwksSource = Callable[[], Awaitable[dict[str, Any]]]


def jwks_file(path: str) -> JwksSource:
    async def read() -> dict[str, Any]:
        document: dict[str, Any] = json.loads(await asyncio.to_thread(Path(path).read_text))
        return document

    return read


def jwks_url(url: str, http: aiohttp.ClientSession) -> JwksSource:
    async def fetch() -> dict[str, Any]:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
            r.raise_for_status()
            document: dict[str, Any] = await r.json(content_type=None)
            return document

    return fetch


@dataclass(frozen=True)
class SigningKey:
    key: jwt.PyJWK
    algorithms: frozenset[str]  # what it may sign with: its "alg", else its type's


def signing_keys(document: dict[str, Any]) -> dict[str | None, SigningKey]:
    """The usable keys of a JWKS document by key id (encryption keys and
    symmetric or unknown key types left out)."""
    found: dict[str | None, SigningKey] = {}
    for data in document.get("keys", []):
        kty, alg = data.get("kty"), data.get("alg")
        if kty not in ALGORITHMS or data.get("use", "sig") != "sig":
            continue
        if alg is not None and alg not in ALGORITHMS[kty]:
            continue
        try:
            key = jwt.PyJWK(data)
        except jwt.PyJWTError:
            continue
        found[key.key_id] = SigningKey(key, frozenset({alg}) if alg else ALGORITHMS[kty])
    return found


class SigningKeys:
    """The provider's public keys by key id, re-read as the module says."""

    def __init__(self, source: JwksSource, config: OidcConfig) -> None:
        self._source = source
        self._config = config
        self._keys: dict[str | None, SigningKey] = {}
        self._read_at = float("-inf")

    async def load(self) -> None:
        """Read the key set now; on failure the keys held so far stay."""
        self._read_at = time.monotonic()
        try:
            keys = signing_keys(await self._source())
        except (OSError, ValueError, AttributeError, aiohttp.ClientError) as exc:
            log.warning("oidc_jwks_unreadable", extra=fields(error=f"{type(exc).__name__}: {exc}"))
            return
        self._keys = keys
        log.info("oidc_jwks_loaded", extra=fields(keys=len(keys)))

    async def key(self, key_id: str | None) -> SigningKey:
        age = time.monotonic() - self._read_at
        if age >= self._config.jwks_refresh_seconds or (
            self._find(key_id) is None and age >= self._config.jwks_min_refetch_seconds
        ):
            await self.load()
        found = self._find(key_id)
        if found is None:
            raise Refused("unknown_key")
        return found

    def _find(self, key_id: str | None) -> SigningKey | None:
        if key_id is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(key_id) if key_id is not None else None


class OidcVerifier:
    def __init__(self, config: OidcConfig, keys: SigningKeys) -> None:
        self._config = config
        self._keys = keys

    async def operator_of(self, token: str) -> str | None:
        """The operator a valid token names, None for any other token."""
        try:
            name = await self._verify(token)
        except Refused as refused:
            TOKENS.labels(str(refused)).inc()
            log.info("oidc_token_refused", extra=fields(reason=str(refused)))
            return None
        TOKENS.labels("accepted").inc()
        return name

    async def _verify(self, token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Refused("malformed") from None
        algorithm, key_id = header.get("alg"), header.get("kid")
        if not isinstance(key_id, str | None):
            raise Refused("malformed")
        signing = await self._keys.key(key_id)
        if algorithm not in signing.algorithms:
            raise Refused("algorithm")
        c = self._config
        try:
            claims = jwt.decode(
                token,
                signing.key.key,
                algorithms=[algorithm],
                audience=c.audience,
                issuer=c.issuer,
                leeway=c.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Refused("expired") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            raise Refused("wrong_issuer_or_audience") from None
        except jwt.PyJWTError:
            raise Refused("invalid") from None
        name = claims.get(c.operator_claim)
        if not isinstance(name, str) or not name:
            raise Refused("no_operator_claim")
        return name
