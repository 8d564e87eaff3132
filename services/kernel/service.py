"""The shell every service runs in: Redis, the tenant cache, the ops server
(/metrics, /healthz, /readyz) and a gRPC server with health and reflection.

A service subclasses it, adds its own parts in ``start_parts`` and its
servicer in ``register_grpc``; ``stop`` turns not-ready and NOT_SERVING,
drains gRPC, closes the parts (``closers``, in order), then Redis.
"""

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import ClassVar

import grpc
from aiohttp import web

from services.kernel.grpc_server import GrpcServer, start_grpc_server
from services.kernel.lifecycle import cancel_and_wait, run_until_signal
from services.kernel.logs import configure_logging, fields
from services.kernel.ops_http import Readiness, ops_app, start_site
from services.kernel.redis_conn import connect
from services.kernel.settings import ServiceSettings
from services.kernel.tenants import TenantCache

log = logging.getLogger(__name__)


def port_of(runner: web.AppRunner) -> int:
    """The port an aiohttp runner is bound to (after a start on port 0)."""
    return int(runner.addresses[0][1])


class ServiceShell(ABC):
    grpc_service_name: ClassVar[str]

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.redis = connect(settings.redis_url)
        self.tenants = TenantCache(self.redis)
        self.readiness = Readiness()
        self.closers: list[Callable[[], Awaitable[None]]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self._grpc: GrpcServer | None = None
        self._ops: web.AppRunner | None = None

    @abstractmethod
    async def start_parts(self) -> None:
        """Create the service's core and extra servers (tenants are loaded)."""

    @abstractmethod
    def register_grpc(self, server: grpc.aio.Server) -> None: ...

    def addresses(self) -> dict[str, str]:
        s = self.settings
        return {
            "grpc": f"{s.grpc_host}:{self.grpc_port}",
            "ops": f"{s.ops_host}:{self.ops_port}",
            "redis": s.redis_url,
        }

    @property
    def grpc(self) -> GrpcServer:
        assert self._grpc is not None, "not started"
        return self._grpc

    @property
    def grpc_port(self) -> int:
        return self.grpc.port

    @property
    def ops_port(self) -> int:
        assert self._ops is not None, "not started"
        return port_of(self._ops)

    async def start(self) -> None:
        """Start everything; ports given as 0 are picked free."""
        s = self.settings
        await self.tenants.start()
        self.readiness.checks.append(lambda: self.tenants.loaded)
        self._ops = await start_site(ops_app(self.readiness), s.ops_host, s.ops_port)
        self.tasks.append(asyncio.create_task(self.tenants.run()))
        await self.start_parts()
        self._grpc = await start_grpc_server(
            s.grpc_host, s.grpc_port, self.register_grpc, [self.grpc_service_name]
        )
        self.readiness.ready = True
        log.info("listening", extra=fields(**self.addresses()))

    async def stop(self) -> None:
        self.readiness.ready = False
        if self._grpc is not None:
            await self._grpc.stop(self.settings.shutdown_grace_seconds)
        for close in self.closers:
            await close()
        await cancel_and_wait(self.tasks)
        if self._ops is not None:
            await self._ops.cleanup()
        await self.redis.aclose()
        log.info("stopped")


def run_service(make: Callable[[], ServiceShell]) -> None:
    """``python -m services.X``: run a service until SIGTERM or SIGINT."""

    async def main(stop: asyncio.Event) -> None:
        service = make()
        configure_logging(service.settings.log_format, service.settings.log_level)
        await service.start()
        await stop.wait()
        await service.stop()

    run_until_signal(main)
