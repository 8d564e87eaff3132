"""HTTP transport for Kamailio: ``GET /v1/route`` answers with RouteResponse
in protobuf's JSON mapping, flat so that jansson reads it in one go.

Every field is always present (enums as names, strings possibly empty), so
the Kamailio script never has to test for a missing key. The handler does
the core's one Redis round trip and nothing else; any answer but 200 sends
Kamailio down its fallback route.

The lookup has an HTTP/1.1 server of its own, not aiohttp. Every call
through the edge costs one lookup, one at a time per kept-alive connection
from Kamailio's http_async workers, and aiohttp's request machinery cost
more CPU than the lookup itself. This server reads exactly what Kamailio
sends: a request line and headers (at most ``MAX_HEAD`` bytes, no body),
answered in arrival order. Anything else gets a short JSON error and, where
the stream can no longer be trusted, the connection is closed.
"""

import asyncio
import json
import logging
from typing import cast
from urllib.parse import parse_qsl

from google.protobuf.descriptor import FieldDescriptor
from hotdesk.v1 import binding_pb2 as pb
from redis.exceptions import RedisError

from services.binding.core import BindingCore
from services.kernel import correlation
from services.kernel.logs import fields

log = logging.getLogger(__name__)

PATH = "/v1/route"
PARAMS = ("caller_user", "caller_domain", "callee_user", "callee_domain")
MAX_HEAD = 8192  # request line and headers; Kamailio's are ~300 bytes
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


# The two halves the edge's route cache keeps (kamailio.cfg
# route[HOTDESK_CACHED]): what an answer says of the caller and what it says
# of the callee, each with what tells whether it still holds.
CALLER_HALF = (
    "caller_kind",
    "caller_tenant",
    "caller_extension",
    "caller_display_name",
    "caller_id",
    "caller_domain",
    "emergency_caller_id",
    "caller_check",
    "caller_generation",
    "caller_until",
)
CALLEE_HALF = (
    "callee_kind",
    "callee_device",
    "callee_device_domain",
    "callee_extension",
    "callee_domain",
    "feature",
    "routes",
    "unavailable_uri",
    "unavailable_routes",
    "ring_seconds",
    "callee_check",
    "callee_generation",
    "callee_until",
)


def _half(mapped: dict[str, object], side: str, names: tuple[str, ...]) -> str:
    """One half as the members of a JSON object, without its braces, so the
    edge joins a caller's and a callee's half into one answer with "{", ","
    and "}"; "" when the half cannot be reused."""
    if not mapped[f"{side}_check"]:
        return ""
    half = {name: mapped[name] for name in names}
    half[f"{side}_version"] = mapped["directory_version"]
    return json.dumps(half)[1:-1]


def route_json(answer: pb.RouteResponse) -> str:
    """The answer in protobuf's JSON mapping, plus ``caller_half`` and
    ``callee_half`` for the edge's route cache."""
    mapped: dict[str, object] = {
        name: names[getattr(answer, name)] if names else getattr(answer, name)
        for name, names in _FIELDS
    }
    mapped["caller_half"] = _half(mapped, "caller", CALLER_HALF)
    mapped["callee_half"] = _half(mapped, "callee", CALLEE_HALF)
    return json.dumps(mapped)


_CORRELATION = correlation.HTTP_HEADER.lower()
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


def _response(status: int, body: bytes, *, close: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


class BadRequest(Exception):
    """The request cannot be answered; ``close``: nor can the stream after it."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.close = close


class Request:
    """One parsed request head: what the lookup needs from it."""

    __slots__ = ("correlation_id", "keep_alive", "query")

    def __init__(self, head: bytes) -> None:
        try:
            text = head.decode("ascii")
        except UnicodeDecodeError:
            raise BadRequest(400, "request head is not ASCII", close=True) from None
        line, *header_lines = text.split("\r\n")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest(400, "malformed request line", close=True)
        method, target, version = parts
        self.keep_alive = version == "HTTP/1.1"
        self.correlation_id: str | None = None
        for header in header_lines:
            name, sep, value = header.partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest(400, "malformed header line", close=True)
            key = name.lower()
            value = value.strip()
            if key in ("content-length", "transfer-encoding") and value not in ("", "0"):
                raise BadRequest(400, "a lookup has no body", close=True)
            if key == "connection":
                tokens = {t.strip().lower() for t in value.split(",")}
                if "close" in tokens:
                    self.keep_alive = False
                elif "keep-alive" in tokens:
                    self.keep_alive = True
            elif key == _CORRELATION:
                self.correlation_id = value
        path, _, query = target.partition("?")
        if path != PATH:
            raise BadRequest(404, f"no such resource: {path[:64]}")
        if method != "GET":
            raise BadRequest(405, f"{method[:16]} is not allowed here")
        try:
            self.query = parse_qsl(
                query, keep_blank_values=True, errors="strict", max_num_fields=16
            )
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(400, "malformed query string") from None

    def lookup(self) -> pb.RouteRequest:
        values: dict[str, str] = {}
        twice: set[str] = set()
        for name, value in self.query:
            if name in values:
                twice.add(name)
            values[name] = value
        if twice:
            # Kamailio URL-encodes every value: a repeated name is a forgery.
            raise BadRequest(400, f"query parameter(s) given twice: {', '.join(sorted(twice))}")
        missing = [p for p in PARAMS if p not in values]
        if missing:
            raise BadRequest(400, f"missing query parameter(s): {', '.join(missing)}")
        return pb.RouteRequest(
            caller_user=values["caller_user"],
            caller_domain=values["caller_domain"],
            callee_user=values["callee_user"],
            callee_domain=values["callee_domain"],
            caller_peer=values.get("caller_peer", ""),
        )


class LookupProtocol(asyncio.Protocol):
    """One Kamailio connection: requests answered in arrival order."""

    def __init__(self, core: BindingCore, connections: set["LookupProtocol"]) -> None:
        self._core = core
        self._connections = connections
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._busy = False
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not a subclass of asyncio's).
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._connections.discard(self)

    def close(self) -> None:
        if self._transport is not None:
            self._closing = True
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > 2 * MAX_HEAD and self._transport is not None:
            # Pipelined requests waiting for the one in flight: read no more
            # until it is answered.
            self._transport.pause_reading()
        self._next()

    def _next(self) -> None:
        if self._busy or self._closing or self._transport is None:
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end > MAX_HEAD or (end < 0 and len(self._buffer) > MAX_HEAD):
            self._send(431, _error("request head too large"), close=True)
            return
        if end < 0:
            return
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        try:
            request = Request(head)
            lookup = request.lookup()
        except BadRequest as bad:
            self._send(bad.status, _error(str(bad)), close=bad.close)
            self._next()
            return
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._answer(request, lookup))
        task.add_done_callback(self._answered)

    async def _answer(self, request: Request, lookup: pb.RouteRequest) -> None:
        correlation.adopt(request.correlation_id)  # the SIP Call-ID Kamailio sends
        close = not request.keep_alive
        try:
            answer = await self._core.route(lookup)
        except (RedisError, OSError) as exc:
            log.warning("route_unavailable", extra=fields(error=str(exc)))
            self._send(503, _error(f"redis: {exc}"), close=close)
            return
        self._send(200, route_json(answer).encode(), close=close)

    def _answered(self, task: "asyncio.Task[None]") -> None:
        self._busy = False
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()
        if not task.cancelled() and task.exception() is not None:
            log.error("route_failed", exc_info=task.exception())
            self._send(503, _error("lookup failed"), close=True)
        self._next()

    def _send(self, status: int, body: bytes, *, close: bool) -> None:
        if self._transport is None:
            return
        self._transport.write(_response(status, body, close=close))
        if close:
            self.close()


class LookupServer:
    """The listening socket and its open connections (Kamailio keeps its own
    open: stopping closes them, or a shutdown would wait on Kamailio)."""

    def __init__(self, core: BindingCore) -> None:
        self._core = core
        self._connections: set[LookupProtocol] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, port: int, *, shared: bool = False) -> None:
        """Listen on host:port; ``shared``: other processes may listen on
        the same port (SO_REUSEPORT; the kernel spreads new connections)."""
        self._server = await asyncio.get_running_loop().create_server(
            lambda: LookupProtocol(self._core, self._connections),
            host,
            port,
            reuse_address=True,
            reuse_port=shared,
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._connections):
            connection.close()
        await self._server.wait_closed()
