"""Wiring: Redis, tenant cache, core, gRPC, the Kamailio endpoint, the ops
server and the expiry sweeper, started and stopped as one."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.binding import metrics
from services.binding.core import BindingCore
from services.binding.grpc_api import BindingServicer
from services.binding.http_api import route_app
from services.binding.settings import BindingSettings
from services.kernel.grpc_server import GrpcServer, start_grpc_server
from services.kernel.logs import fields
from services.kernel.ops_http import Readiness, ops_app, start_site
from services.kernel.redis_conn import connect
from services.kernel.tenants import TenantCache

from hotdesk.v1 import binding_pb2, binding_pb2_grpc  # isort: skip

log = logging.getLogger(__name__)
SERVICE_NAME = binding_pb2.DESCRIPTOR.services_by_name["BindingService"].full_name


async def _sweep_expired(core: BindingCore, interval: float) -> None:
    """End sessions whose time is up, and refresh the active-sessions gauge."""
    while True:
        try:
            await core.expire_due()
            metrics.ACTIVE_SESSIONS.set(await core.active_sessions())
        except (RedisError, OSError) as exc:
            log.warning("expiry_sweep_failed", extra=fields(error=str(exc)))
        await asyncio.sleep(interval)


def _port(runner: web.AppRunner) -> int:
    (address,) = runner.addresses[:1]
    return int(address[1])


@dataclass
class RunningBindingService:
    settings: BindingSettings
    redis: Redis
    core: BindingCore
    grpc: GrpcServer
    http: web.AppRunner
    ops: web.AppRunner
    readiness: Readiness
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def grpc_port(self) -> int:
        return self.grpc.port

    @property
    def http_port(self) -> int:
        return _port(self.http)

    @property
    def ops_port(self) -> int:
        return _port(self.ops)

    async def stop(self) -> None:
        """Not ready first, then drain gRPC and HTTP, then close Redis."""
        self.readiness.ready = False
        await self.grpc.stop(self.settings.shutdown_grace_seconds)
        await self.http.cleanup()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.ops.cleanup()
        await self.redis.aclose()
        log.info("stopped")


async def start_binding_service(settings: BindingSettings) -> RunningBindingService:
    """Start everything; ports given as 0 are picked free (see the properties)."""
    redis = connect(settings.redis_url)
    tenants = TenantCache(redis)
    await tenants.start()
    core = BindingCore(redis, tenants, stream_maxlen=settings.stream_maxlen)
    readiness = Readiness()
    readiness.checks.append(lambda: tenants.loaded)
    ops = await start_site(ops_app(readiness), settings.ops_host, settings.ops_port)
    grpc_server = await start_grpc_server(
        settings.grpc_host,
        settings.grpc_port,
        lambda s: binding_pb2_grpc.add_BindingServiceServicer_to_server(BindingServicer(core), s),
        [SERVICE_NAME],
    )
    http = await start_site(route_app(core), settings.http_host, settings.http_port)
    service = RunningBindingService(settings, redis, core, grpc_server, http, ops, readiness)
    service.tasks = [
        asyncio.create_task(tenants.run()),
        asyncio.create_task(_sweep_expired(core, settings.expiry_interval_seconds)),
    ]
    readiness.ready = True
    log.info(
        "listening",
        extra=fields(
            grpc=f"{settings.grpc_host}:{service.grpc_port}",
            http=f"{settings.http_host}:{service.http_port}",
            ops=f"{settings.ops_host}:{service.ops_port}",
            redis=settings.redis_url,
        ),
    )
    return service
