"""HTTP transport for Kamailio: ``GET /v1/route`` answers with RouteResponse
in protobuf's JSON mapping, flat so that jansson reads it in one go.

Every field is always present (enums as names, strings possibly empty), so
the Kamailio script never has to test for a missing key. The handler does
the core's one Redis round trip and nothing else; any answer but 200 sends
Kamailio down its fallback route.
"""

import json
import logging

from aiohttp import web
from google.protobuf.descriptor import FieldDescriptor
from hotdesk.v1 import binding_pb2 as pb
from redis.exceptions import RedisError

from services.binding.core import BindingCore
from services.kernel import correlation
from services.kernel.logs import fields

log = logging.getLogger(__name__)

CORE = web.AppKey("core", BindingCore)
_PARAMS = ("caller_user", "caller_domain", "callee_user", "callee_domain")
# RouteResponse is flat: strings, enums and integers only. Walking its fields with the
# enum names looked up in advance gives protobuf's JSON mapping (field names
# preserved, every field present) at a fraction of json_format's cost on the
# hottest path; a test holds the two outputs equal.
_FIELDS = [
    (f.name, {v.number: v.name for v in f.enum_type.values} if f.enum_type else None)
    for f in pb.RouteResponse.DESCRIPTOR.fields
]
assert all(
    f.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_ENUM, FieldDescriptor.TYPE_INT32)
    for f in pb.RouteResponse.DESCRIPTOR.fields
), "RouteResponse must stay flat (strings, enums, int32) for route_json"


def route_json(answer: pb.RouteResponse) -> str:
    return json.dumps(
        {
            name: names[getattr(answer, name)] if names else getattr(answer, name)
            for name, names in _FIELDS
        }
    )


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def route(request: web.Request) -> web.Response:
    cid = request.headers.get(correlation.HTTP_HEADER)
    if cid:
        correlation.adopt(cid)  # the SIP Call-ID Kamailio sends
    query = request.query
    twice = sorted({k for k in query if len(query.getall(k)) > 1})
    if twice:
        # Kamailio URL-encodes every value: a repeated name is a forgery.
        return _error(400, f"query parameter(s) given twice: {', '.join(twice)}")
    try:
        lookup = pb.RouteRequest(
            caller_user=query["caller_user"],
            caller_domain=query["caller_domain"],
            callee_user=query["callee_user"],
            callee_domain=query["callee_domain"],
            caller_peer=query.get("caller_peer", ""),
        )
    except KeyError:
        missing = ", ".join(p for p in _PARAMS if p not in query)
        return _error(400, f"missing query parameter(s): {missing}")
    try:
        answer = await request.app[CORE].route(lookup)
    except (RedisError, OSError) as exc:
        log.warning("route_unavailable", extra=fields(error=str(exc)))
        return _error(503, f"redis: {exc}")
    return web.Response(text=route_json(answer), content_type="application/json")


def route_app(core: BindingCore) -> web.Application:
    app = web.Application()
    app[CORE] = core
    app.router.add_get("/v1/route", route)
    return app
