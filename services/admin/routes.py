"""The one route table of the API and the two things made from it: the
aiohttp routes that serve requests and the OpenAPI 3.1 document that
describes them (``/api/v1/openapi.json``), so neither can drift.

A route names its path model, query model, body model and response model
(pydantic); the adapter authenticates the operator (``auth``), checks the
role's action, checks the CSRF token of a cookie session's state-changing
request, validates what the request carries into those models and serves
the handler's answer as JSON. A handler sees only a ``Call``.
"""

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from redis.exceptions import RedisError

from services.admin import auth, metrics
from services.admin.context import AdminContext
from services.admin.errors import ApiError
from services.admin.models import ErrorBody
from services.admin.operators import Action, Operator
from services.kernel.logs import fields

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
EVENT_STREAM = "text/event-stream"
CONTEXT = web.AppKey("context", AdminContext)
M = TypeVar("M", bound=BaseModel)
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REASONS = {
    400: "the request breaks a rule (the message says which)",
    401: "not signed in, or the session or token is not valid",
    403: "the operator's role may not do this, or the CSRF token is missing",
    404: "no such object among the operator's tenants",
    409: "changed meanwhile by someone else; retry",
    429: "too many failed sign-ins for this name; retry later",
    502: "a service behind refused for a reason of this deployment",
    503: "a service behind, or Redis, is unavailable; retry",
}


@dataclass(frozen=True)
class Call:
    """One request, validated: who sent it and what it carries."""

    request: web.Request
    context: AdminContext
    operator: Operator | None  # None only on public routes
    path: BaseModel | None
    query: BaseModel | None
    body: BaseModel | None

    @property
    def who(self) -> Operator:
        assert self.operator is not None, "a public route has no operator"
        return self.operator

    def path_as(self, model: type[M]) -> M:
        assert isinstance(self.path, model)
        return self.path

    def query_as(self, model: type[M]) -> M:
        assert isinstance(self.query, model)
        return self.query

    def body_as(self, model: type[M]) -> M:
        assert isinstance(self.body, model)
        return self.body


Reply = BaseModel | web.StreamResponse | None
Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under PREFIX, aiohttp style: "/devices/{device_id}"
    handler: Handler
    summary: str
    tag: str
    action: Action | None  # None: public (no sign-in)
    response: type[BaseModel] | None = None  # None: 204, or a stream
    status: int = 200
    path_model: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    raw: str | None = None  # the media type of an answer the handler writes itself
    remote: bool = False  # calls a service behind (may answer 502/503)
    errors: tuple[int, ...] = field(default=())  # further statuses it answers

    def statuses(self) -> list[int]:
        codes = {503, *self.errors}
        if self.action is not None:
            codes |= {401, 403}
        if self.path_model is not None:
            codes.add(404)
        if self.query is not None or self.body is not None:
            codes.add(400)
        if self.remote:
            codes.add(502)
        return sorted(codes)


def _error(status: int, message: str) -> web.Response:
    return web.json_response(ErrorBody(error=message).model_dump(), status=status)


def _validate(model: type[BaseModel] | None, data: Any, status: int) -> BaseModel | None:
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(status, f"{where}: {first['msg']}") from None


async def _body(route: Route, request: web.Request) -> BaseModel | None:
    if route.body is None:
        return None
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not JSON") from None
    return _validate(route.body, data, 400)


async def _answer(route: Route, request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    try:
        # An object named by a malformed path cannot exist: 404.
        path = _validate(route.path_model, dict(request.match_info), 404)
        operator = None
        if route.action is not None:
            operator = await auth.operator_of(
                context, request, checks_csrf=request.method in _CHANGES
            )
            if not operator.may(route.action):
                raise ApiError(403, f"a {operator.role.value} may not {route.action.value}")
        query = _validate(route.query, dict(request.query), 400)
        call = Call(request, context, operator, path, query, await _body(route, request))
        reply = await route.handler(call)
    except ApiError as exc:
        return _error(exc.status, str(exc))
    except RedisError as exc:
        log.warning("redis_failed", extra=fields(path=request.path, error=str(exc)))
        return _error(503, "redis is unavailable; retry")
    if isinstance(reply, web.StreamResponse):
        return reply
    if reply is None:
        return web.Response(status=204)
    return web.json_response(reply.model_dump(mode="json"), status=route.status)


def _serve(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    operation = route.handler.__name__
    if route.raw == EVENT_STREAM:
        # Open for as long as the viewer watches: neither timed nor counted
        # as a request in flight (its events come from one shared reader).
        return partial(_answer, route)
    seconds = metrics.REQUEST_SECONDS.labels(operation)

    async def serve(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        async with request.app[CONTEXT].in_flight:
            response = await _answer(route, request)
        seconds.observe(time.perf_counter() - started)
        metrics.REQUESTS.labels(operation, str(response.status)).inc()
        return response

    return serve


def add_routes(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, PREFIX + route.path, _serve(route))


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp's own refusals (no such path, wrong method) as JSON too."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)


# The OpenAPI document


def _models(routes: list[Route]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    found: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for r in routes:
        for model in (r.path_model, r.query, r.body):
            if model is not None:
                found.append((model, "validation"))
        if r.response is not None:
            found.append((r.response, "serialization"))
    return list(dict.fromkeys(found))


def _parameters(
    model: type[BaseModel] | None, where: str, schema: dict[str, Any]
) -> list[dict[str, Any]]:
    if model is None:
        return []
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(route: Route, schemas: dict[str, Any], refs: dict[Any, Any]) -> dict[str, Any]:
    def ref(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(refs[(model, mode)])

    def inline(model: type[BaseModel] | None) -> dict[str, Any]:
        if model is None:
            return {}
        name = refs[(model, "validation")]["$ref"].rsplit("/", 1)[1]
        return dict(schemas[name])

    responses: dict[str, Any] = {}
    if route.raw:
        responses[str(route.status)] = {
            "description": "done",
            "content": {route.raw: {"schema": {"type": "string"}}},
        }
    elif route.response is None:
        responses["204"] = {"description": "done"}
    else:
        responses[str(route.status)] = {
            "description": "done",
            "content": {"application/json": {"schema": ref(route.response, "serialization")}},
        }
    for status in route.statuses():
        responses[str(status)] = {
            "description": _REASONS[status],
            "content": {"application/json": {"schema": ref(ErrorBody, "serialization")}},
        }
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route.path_model, "path", inline(route.path_model))
        + _parameters(route.query, "query", inline(route.query)),
        "responses": responses,
    }
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(route.body, "validation")}},
        }
    if route.action is None:
        operation["security"] = []
    return operation


def openapi_document(routes: list[Route], version: str) -> dict[str, Any]:
    refs, defs = models_json_schema(_models(routes), ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = defs.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operations = paths.setdefault(PREFIX + route.path, {})
        operations[route.method.lower()] = _operation(route, schemas, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hotdesk-edge admin API",
            "version": version,
            "description": "Operators' API: devices and who is on each, users, forced "
            "logouts and logins, unlocks, PIN resets, resyncs, the audit trail and a "
            "stream of logins and logouts, scoped to the operator's tenants.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API token, or the identity provider's JWT (if configured)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": auth.COOKIE,
                    "description": "a web session (POST /api/v1/session); state-changing "
                    "requests also carry its CSRF token in X-CSRF-Token",
                },
            },
        },
        "paths": paths,
    }
