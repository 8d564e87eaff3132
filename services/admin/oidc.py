"""OIDC bearer tokens: operators of an identity provider send its access
tokens (JWTs) as ``Authorization: Bearer``. A token counts if it is signed
RS256 or ES256 by a key of the provider's JWKS (a file, or a URL fetched
and cached), names the configured issuer and audience, and has not
expired; its claims make the operator:

* the name claim (``preferred_username`` by default) is the operator's
  name (it must match the operator name rule; the audit trail records it);
* the roles claim (``hotdesk_roles`` by default), a list, holds
  ``platform_admin``, ``tenant_admin:<tenant>`` or ``helpdesk:<tenant>``
  entries; the highest role given counts, over the tenants listed for it.

Nothing of such an operator is stored: every request is judged by its token.
"""

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import jwt

from services.admin.operators import NAME_PATTERN, Operator, Role
from services.kernel.logs import fields

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256", "ES256"]
# Roles from the highest down.
_RANKS = (Role.PLATFORM_ADMIN, Role.TENANT_ADMIN, Role.HELPDESK)


def operator_of_claims(
    claims: dict[str, Any], name_claim: str, roles_claim: str
) -> Operator | None:
    name = claims.get(name_claim)
    roles = claims.get(roles_claim)
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        return None
    if not isinstance(roles, list):
        return None
    given: dict[Role, list[str]] = {}
    for entry in roles:
        if not isinstance(entry, str):
            continue
        role, _, tenant = entry.partition(":")
        if role in {r.value for r in Role}:
            given.setdefault(Role(role), []).append(tenant)
    for role in _RANKS:
        if role is Role.PLATFORM_ADMIN and role in given:
            return Operator(name, role, ())
        tenants = tuple(sorted({t for t in given.get(role, []) if t}))
        if tenants:
            return Operator(name, role, tenants)
    return None


class OidcVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_file: Path | None,
        jwks_url: str,
        name_claim: str,
        roles_claim: str,
        jwks_cache_seconds: int,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._name_claim = name_claim
        self._roles_claim = roles_claim
        self._keys: jwt.PyJWKSet | None = None
        self._client: jwt.PyJWKClient | None = None
        if jwks_file is not None:
            self._keys = jwt.PyJWKSet.from_json(jwks_file.read_text())
        else:
            self._client = jwt.PyJWKClient(jwks_url, lifespan=jwks_cache_seconds, timeout=5)

    def _key(self, token: str) -> jwt.PyJWK:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token)
        assert self._keys is not None
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None and len(self._keys.keys) == 1:
            return self._keys.keys[0]
        return self._keys[str(kid)]

    def _claims(self, token: str) -> dict[str, Any]:
        key = self._key(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=self._audience,
            issuer=self._issuer,
            options={"require": ["exp", "iss", "aud"]},
        )
        return claims

    async def operator_of(self, token: str) -> Operator | None:
        """The operator the token makes, or None if it does not count."""
        try:
            # A JWKS URL is fetched (then cached) by a blocking client.
            claims = await asyncio.to_thread(self._claims, token)
        except (jwt.PyJWTError, KeyError) as exc:
            log.info("oidc_token_refused", extra=fields(reason=type(exc).__name__))
            return None
        return operator_of_claims(claims, self._name_claim, self._roles_claim)
