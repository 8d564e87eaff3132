"""Sign-in and sign-out (web sessions), who am I, and API tokens."""

from aiohttp import web

from services.admin import auth
from services.admin.actions import audited
from services.admin.context import AdminContext
from services.admin.credentials import ApiToken
from services.admin.errors import ApiError, not_found
from services.admin.models import (
    OperatorView,
    SessionStarted,
    SignIn,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenPath,
    TokenView,
)
from services.admin.operators import Action, Operator, Role
from services.admin.routes import Call, Route
from services.kernel import keys


def operator_view(operator: Operator) -> OperatorView:
    return OperatorView(name=operator.name, role=operator.role, tenants=list(operator.tenants))


async def _counted_failure(context: AdminContext, name: str) -> None:
    key = keys.admin_sign_in_failures(name)
    async with context.redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, context.sign_in_window_seconds, nx=True)
        await pipe.execute()


async def sign_in(call: Call) -> web.StreamResponse:
    context, body = call.context, call.body_as(SignIn)
    failures = await context.redis.get(keys.admin_sign_in_failures(body.name))
    if int(failures or 0) >= context.sign_in_failures:
        raise ApiError(429, "too many failed sign-ins; try again later")
    operator = await context.operators.check_password(body.name, body.password)
    if operator is None:
        await _counted_failure(context, body.name)
        await context.audit.record(keys.ADMIN_GROUP, "admin_sign_in_failed", name=body.name)
        raise ApiError(401, "wrong name or password")
    cookie, session = await context.sessions.start(operator.name)
    await audited(context, operator, "admin_sign_in", None)
    started = SessionStarted(operator=operator_view(operator), csrf_token=session.csrf)
    response = web.json_response(started.model_dump(mode="json"))
    auth.set_cookie(response, cookie, context.sessions.seconds, context.secure_cookies)
    return response


async def sign_out(call: Call) -> web.StreamResponse:
    """Ends the web session (idempotent; an API token is revoked instead)."""
    cookie = call.request.cookies.get(auth.COOKIE)
    if cookie is not None:
        await call.context.sessions.end(cookie)
    await audited(call.context, call.who, "admin_sign_out", None)
    response = web.Response(status=204)
    auth.clear_cookie(response)
    return response


async def whoami(call: Call) -> OperatorView:
    return operator_view(call.who)


def _token_view(token: ApiToken) -> TokenView:
    return TokenView(
        id=token.id, operator=token.operator, label=token.label, created_unix_ms=token.created_ms
    )


def _owns(operator: Operator, token: ApiToken) -> bool:
    return operator.role is Role.PLATFORM_ADMIN or token.operator == operator.name


async def create_token(call: Call) -> TokenCreated:
    body = call.body_as(TokenCreate)
    token, record = await call.context.tokens.create(call.who.name, body.label)
    await audited(call.context, call.who, "admin_token_created", None, token_id=record.id)
    return TokenCreated(token=token, info=_token_view(record))


async def list_tokens(call: Call) -> TokenList:
    tokens = await call.context.tokens.list()
    return TokenList(items=[_token_view(t) for t in tokens if _owns(call.who, t)])


async def revoke_token(call: Call) -> None:
    token_id = call.path_as(TokenPath).token_id
    token = await call.context.tokens.get(token_id)
    if token is None or not _owns(call.who, token):
        raise not_found(f"token {token_id}")
    await call.context.tokens.revoke(token_id)
    await audited(
        call.context, call.who, "admin_token_revoked", None, token_id=token_id, of=token.operator
    )


ROUTES = [
    Route(
        "POST",
        "/session",
        sign_in,
        "Sign in: a session cookie and its CSRF token",
        "session",
        None,
        SessionStarted,
        body=SignIn,
        errors=(401, 429),
    ),
    Route("DELETE", "/session", sign_out, "Sign out", "session", Action.READ),
    Route("GET", "/me", whoami, "The signed-in operator", "session", Action.READ, OperatorView),
    Route(
        "GET",
        "/tokens",
        list_tokens,
        "API tokens (a platform admin's: everyone's)",
        "tokens",
        Action.READ,
        TokenList,
    ),
    Route(
        "POST",
        "/tokens",
        create_token,
        "Create an API token (shown once)",
        "tokens",
        Action.READ,
        TokenCreated,
        status=201,
        body=TokenCreate,
    ),
    Route(
        "DELETE",
        "/tokens/{token_id}",
        revoke_token,
        "Revoke an API token",
        "tokens",
        Action.READ,
        path_model=TokenPath,
    ),
]
