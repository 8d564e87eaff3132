"""The admin HTTP application: the API's route table, its OpenAPI
document, the console's static files, and the security headers on every
answer."""

from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path

from aiohttp import web

from services.admin import (
    audit_api,
    device_api,
    import_api,
    occupancy_api,
    profile_api,
    provisioning_api,
    session_api,
    user_api,
    webhook_api,
)
from services.admin.context import AdminContext
from services.admin.routes import CONTEXT, Call, Route, add_routes, json_errors, openapi_document

STATIC = Path(__file__).parent / "static"
# The largest request body: a tenant's part of the directory (import_api).
MAX_BODY = 5 * 1024 * 1024
_HEADERS = {
    # No inline script, nothing from elsewhere.
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _openapi_route(routes: list[Route]) -> Route:
    document: dict[str, object] = {}

    async def openapi(call: Call) -> web.StreamResponse:
        return web.json_response(document)

    route = Route(
        "GET", "/openapi.json", openapi, "This document", "meta", None, raw="application/json"
    )
    document.update(openapi_document([*routes, route], version("hotdesk-edge")))
    return route


def api_routes() -> list[Route]:
    routes = (
        session_api.ROUTES
        + device_api.ROUTES
        + provisioning_api.ROUTES
        + user_api.ROUTES
        + profile_api.ROUTES
        + audit_api.ROUTES
        + webhook_api.ROUTES
        + occupancy_api.ROUTES
        + import_api.ROUTES
    )
    return [*routes, _openapi_route(routes)]


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        response.headers.update(_HEADERS)
    return response


def admin_app(context: AdminContext) -> web.Application:
    app = web.Application(middlewares=[security_headers, json_errors], client_max_size=MAX_BODY)
    app[CONTEXT] = context
    add_routes(app, api_routes())

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    return app
