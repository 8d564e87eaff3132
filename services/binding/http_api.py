"""HTTP transport for Kamailio: ``GET /v1/route`` answers with RouteResponse
in protobuf's JSON mapping, flat so that jansson reads it in one go.

Every field is always present (enums as names, strings possibly empty), so
the Kamailio script never has to test for a missing key.
"""

from aiohttp import web
from google.protobuf import json_format
from hotdesk.v1 import binding_pb2 as pb

from services.binding.core import BindingCore

CORE = web.AppKey("core", BindingCore)
_PARAMS = ("caller_user", "caller_domain", "callee_user", "callee_domain")


async def route(request: web.Request) -> web.Response:
    query = request.query
    missing = [p for p in _PARAMS if p not in query]
    if missing:
        return web.json_response(
            {"error": f"missing query parameter(s): {', '.join(missing)}"}, status=400
        )
    answer = await request.app[CORE].route(
        pb.RouteRequest(
            caller_user=query["caller_user"],
            caller_domain=query["caller_domain"],
            callee_user=query["callee_user"],
            callee_domain=query["callee_domain"],
        )
    )
    body = json_format.MessageToJson(
        answer,
        always_print_fields_with_no_presence=True,
        indent=None,
        preserving_proto_field_name=True,
    )
    return web.Response(text=body, content_type="application/json")


def route_app(core: BindingCore) -> web.Application:
    app = web.Application()
    app[CORE] = core
    app.router.add_get("/v1/route", route)
    return app
