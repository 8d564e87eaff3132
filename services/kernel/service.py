"""The shell every service runs in: Redis, the tenant cache, the ops server
(/metrics, /healthz, /readyz) and a gRPC server (mutual TLS, the service's
policy of who may call what, health).

A service subclasses it, names its gRPC service and policy, adds its own
parts in ``start_parts`` and its servicer in ``register_grpc``. Each part
registers its own teardown on ``parts`` (an AsyncExitStack) where it is
created, so they close in reverse order of creation; ``stop`` turns
not-ready and NOT_SERVING, drains gRPC, closes the parts, then Redis.
"""

import asyncio
import contextlib
import logging
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

import grpc
from aiohttp import web

from services.kernel.errors import MissingConfiguration
from services.kernel.grpc_server import GrpcServer, start_grpc_server
from services.kernel.identity import TlsMaterial, secure_channel
from services.kernel.lifecycle import cancel_and_wait, run_until_signal
from services.kernel.logs import configure_logging, fields
from services.kernel.ops_http import Readiness, ops_app, start_site
from services.kernel.redis_conn import connect
from services.kernel.rpc import Policy
from services.kernel.settings import ServiceSettings
from services.kernel.tenants import TenantCache

log = logging.getLogger(__name__)


def port_of(runner: web.AppRunner) -> int:
    """The port an aiohttp runner is bound to (after a start on port 0)."""
    return int(runner.addresses[0][1])


class ServiceShell(ABC):
    # The service's gRPC API; "" for a service that serves health only.
    grpc_service_name: ClassVar[str]
    # Which roles (``service:<name>``, ``operator``) may call each method.
    grpc_policy: ClassVar[Policy]

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.tls = TlsMaterial.of(settings, type(self).__name__)
        self.redis = connect(
            settings.redis_url,
            cluster=settings.redis_cluster,
            password_file=settings.redis_password_file,
            ca_file=settings.redis_ca_file,
        )
        self.tenants = TenantCache(self.redis)
        self.readiness = Readiness()
        self.parts = contextlib.AsyncExitStack()
        self._grpc: GrpcServer | None = None
        self._ops: web.AppRunner | None = None

    @abstractmethod
    async def start_parts(self) -> None:
        """Create the service's core and extra servers (tenants are loaded);
        register each one's teardown on ``parts``."""

    @abstractmethod
    def register_grpc(self, server: grpc.aio.Server) -> None: ...

    def channel(self, address: str) -> grpc.aio.Channel:
        """A channel to another service, with this service's identity;
        closed with the parts."""
        channel = secure_channel(address, self.settings, type(self).__name__)
        self.parts.push_async_callback(channel.close, None)
        return channel

    def background(self, loop: Coroutine[Any, Any, None]) -> None:
        """Run a loop until the service stops."""
        task = asyncio.create_task(loop)
        self.parts.push_async_callback(cancel_and_wait, [task])

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
        self.background(self.tenants.run())
        await self.start_parts()
        self._grpc = await start_grpc_server(
            (s.grpc_host, s.grpc_port),
            self.tls,
            self.register_grpc,
            {self.grpc_service_name: self.grpc_policy} if self.grpc_service_name else {},
            reflection_on=s.grpc_reflection,
        )
        self.readiness.ready = True
        log.info("listening", extra=fields(**self.addresses()))

    async def stop(self) -> None:
        self.readiness.ready = False
        if self._grpc is not None:
            await self._grpc.stop(self.settings.shutdown_grace_seconds)
        await self.parts.aclose()
        if self._ops is not None:
            await self._ops.cleanup()
        await self.redis.aclose()
        log.info("stopped")


def run_service(make: Callable[[], ServiceShell]) -> None:
    """``python -m services.X``: run a service until SIGTERM or SIGINT; exit
    with 2 and one line on stderr if it has no identity to serve with."""

    async def main(stop: asyncio.Event) -> None:
        service = make()
        configure_logging(service.settings.log_format, service.settings.log_level)
        await service.start()
        await stop.wait()
        await service.stop()

    try:
        run_until_signal(main)
    except MissingConfiguration as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
