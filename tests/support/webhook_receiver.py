"""A webhook receiver on 127.0.0.1: records each POST (headers and body)
and answers 204, or 503 to the first ``refuse_first``, or nothing to the
first ``stall_first`` until it closes."""

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.ports import free_port

WAIT_SECONDS = 15


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    def verified_by(self, secret: str) -> bool:
        """The receiver's check, as the README describes it."""
        signed = self.headers["X-Hotdesk-Timestamp"].encode() + b"." + self.body
        expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers["X-Hotdesk-Signature"])

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    url: str
    refuse_first: int = 0  # answer 503 to this many requests first
    stall_first: int = 0  # answer this many requests first only when closing
    got: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append(Delivery(dict(request.headers), await request.read()))
        self.arrived.set()
        if len(self.got) <= self.stall_first:
            await self.closing.wait()
        if len(self.got) <= self.refuse_first:
            return web.Response(status=503)
        return web.Response(status=204)

    def in_order(self) -> list[Delivery]:
        """What arrived, by event id: deliveries sent at once arrive in any order."""
        return sorted(self.got, key=lambda d: [int(n) for n in d.event["id"].split("-")])

    async def next(self, count: int) -> list[Delivery]:
        """Once ``count`` deliveries have arrived (bounded wait)."""
        async with asyncio.timeout(WAIT_SECONDS):
            while len(self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.got


@asynccontextmanager
async def receiver(
    path: str, refuse_first: int = 0, stall_first: int = 0
) -> AsyncIterator[Receiver]:
    port = free_port()
    r = Receiver(f"http://127.0.0.1:{port}{path}", refuse_first, stall_first)
    app = web.Application()
    app.router.add_post(path, r.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield r
    finally:
        r.closing.set()
        await runner.cleanup()
