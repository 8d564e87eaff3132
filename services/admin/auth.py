"""Which operator sent a request: an API token (``Authorization: Bearer``),
an identity provider's token (OIDC, ``services.admin.oidc``: a bearer
token that is not one of ours) or a web session cookie, whose
state-changing requests must also carry the session's CSRF token
(``X-CSRF-Token``). The operator's account is read on
every request, so a changed role or a deleted account counts at once."""

import hmac

from aiohttp import web

from services.admin.context import AdminContext
from services.admin.credentials import TOKEN_PREFIX
from services.admin.errors import ApiError
from services.admin.operators import Operator

COOKIE = "hotdesk_admin_session"
CSRF_HEADER = "X-CSRF-Token"


async def operator_of(
    context: AdminContext, request: web.Request, *, checks_csrf: bool
) -> Operator:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme == "Bearer" and context.oidc is not None and not token.startswith(TOKEN_PREFIX):
            oidc_operator = await context.oidc.operator_of(token)
            if oidc_operator is None:
                raise ApiError(401, "the identity provider's token does not count here")
            return oidc_operator
        name = await context.tokens.operator_of(token) if scheme == "Bearer" else None
    elif cookie := request.cookies.get(COOKIE):
        session = await context.sessions.get(cookie)
        name = session.operator if session else None
        if session and checks_csrf:
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), session.csrf.encode()):
                raise ApiError(403, f"a session's changes need its {CSRF_HEADER} header")
    else:
        name = None
    operator = await context.operators.get(name) if name else None
    if operator is None:
        raise ApiError(401, "sign in (POST /api/v1/session) or send an API token")
    return operator


def set_cookie(response: web.StreamResponse, value: str, max_age: int, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure,
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
