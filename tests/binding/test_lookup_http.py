"""The lookup's own HTTP/1.1 server, on the wire: what Kamailio's http_async
worker does (kept-alive connections, one request after another) and what it
never does (bodies, huge heads, pipelined bursts, HTTP/1.0) all get an
answer that means something, on a real socket against a real Redis."""

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest

from services.binding.core import BindingCore
from services.binding.http_api import MAX_HEAD, LookupServer

QUERY = urlencode(
    {
        "caller_user": "hd3001",
        "caller_domain": "acme.example",
        "callee_user": "1002",
        "callee_domain": "acme.example",
    }
)
LOOKUP = f"GET /v1/route?{QUERY} HTTP/1.1\r\nHost: binding\r\nAccept: */*\r\n\r\n".encode()


@pytest.fixture
async def port(core: BindingCore) -> AsyncIterator[int]:
    server = LookupServer(core)
    await server.start("127.0.0.1", 0)
    yield server.port
    await server.stop()


async def _exchange(
    port: int, data: bytes, answers: int
) -> tuple[list[tuple[int, dict[str, str], dict[str, object]]], bool]:
    """Send ``data``, read ``answers`` responses; returns them and whether
    the server closed the connection afterwards."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    responses = []
    try:
        writer.write(data)
        await writer.drain()
        for _ in range(answers):
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
            status_line, *lines = head.strip().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
            body = await reader.readexactly(int(headers["content-length"]))
            responses.append((int(status_line.split(" ")[1]), headers, json.loads(body)))
        return responses, await asyncio.wait_for(reader.read(1), 2) == b""
    except TimeoutError:
        return responses, False
    finally:
        writer.close()


async def test_kept_alive_requests_are_answered_in_order(port: int) -> None:
    bad = b"GET /v1/route?caller_user=x HTTP/1.1\r\n\r\n"
    answers, _ = await _exchange(port, LOOKUP + bad + LOOKUP, 3)
    assert [status for status, _, _ in answers] == [200, 400, 200]
    assert answers[0][2]["callee_extension"] == "1002"
    assert "caller_domain" in str(answers[1][2]["error"])
    assert all("connection" not in headers for _, headers, _ in answers)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (LOOKUP.replace(b"HTTP/1.1", b"HTTP/1.0"), 200),
        (LOOKUP.replace(b"Accept", b"Connection: close\r\nAccept"), 200),
        (LOOKUP.replace(b"\r\n\r\n", b"\r\nContent-Length: 4\r\n\r\nbody"), 400),
        (LOOKUP.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n"), 400),
        (b"GET /v1/route HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET /v1/r\xc3\xa9 HTTP/1.1\r\n\r\n", 400),
        (b"GET /v1/route?" + QUERY.encode() + b" HTTP/1.1\r\nno colon\r\n\r\n", 400),
    ],
    ids=["http-1.0", "connection-close", "body", "chunked", "request-line", "not-ascii", "header"],
)
async def test_the_connection_closes_where_it_should(
    port: int, request_bytes: bytes, status: int
) -> None:
    answers, closed = await _exchange(port, request_bytes, 1)
    assert [s for s, _, _ in answers] == [status]
    assert answers[0][1].get("connection") == "close"
    assert closed


async def test_a_head_too_large_is_refused_and_closed(port: int) -> None:
    huge = b"GET /v1/route?" + QUERY.encode() + b" HTTP/1.1\r\nX-Pad: " + b"a" * MAX_HEAD
    answers, closed = await _exchange(port, huge, 1)
    assert [s for s, _, _ in answers] == [431]
    assert closed


async def test_other_paths_and_methods_keep_the_connection(port: int) -> None:
    other = b"GET /metrics HTTP/1.1\r\n\r\n"
    post = LOOKUP.replace(b"GET", b"POST", 1)
    answers, closed = await _exchange(port, other + post + LOOKUP, 3)
    assert [s for s, _, _ in answers] == [404, 405, 200]
    assert not closed
