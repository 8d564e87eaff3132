"""Wiring: Redis, tenant cache, the binding client, the core, gRPC and the
ops server, started and stopped as one."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import grpc
from aiohttp import web
from grpc import aio
from hotdesk.v1 import auth_pb2, auth_pb2_grpc, binding_pb2_grpc
from redis.asyncio import Redis

from services.auth.core import AuthCore
from services.auth.grpc_api import AuthServicer
from services.auth.settings import AuthSettings
from services.kernel.grpc_server import GrpcServer, start_grpc_server
from services.kernel.logs import fields
from services.kernel.ops_http import Readiness, ops_app, start_site
from services.kernel.redis_conn import connect
from services.kernel.tenants import TenantCache

log = logging.getLogger(__name__)
SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


@dataclass
class RunningAuthService:
    settings: AuthSettings
    redis: Redis
    core: AuthCore
    grpc: GrpcServer
    ops: web.AppRunner
    binding_channel: aio.Channel
    readiness: Readiness
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def grpc_port(self) -> int:
        return self.grpc.port

    @property
    def ops_port(self) -> int:
        return int(self.ops.addresses[0][1])

    async def stop(self) -> None:
        self.readiness.ready = False
        await self.grpc.stop(self.settings.shutdown_grace_seconds)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.binding_channel.close(grace=None)
        await self.ops.cleanup()
        await self.redis.aclose()
        log.info("stopped")


async def start_auth_service(settings: AuthSettings) -> RunningAuthService:
    """Start everything; ports given as 0 are picked free (see the properties)."""
    redis = connect(settings.redis_url)
    tenants = TenantCache(redis)
    await tenants.start()
    channel = grpc.aio.insecure_channel(settings.binding_address)
    binding = binding_pb2_grpc.BindingServiceStub(channel)
    core = AuthCore(redis, tenants, settings, binding.Login)
    readiness = Readiness()
    readiness.checks.append(lambda: tenants.loaded)
    ops = await start_site(ops_app(readiness), settings.ops_host, settings.ops_port)
    grpc_server = await start_grpc_server(
        settings.grpc_host,
        settings.grpc_port,
        lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(core), s),
        [SERVICE_NAME],
    )
    service = RunningAuthService(settings, redis, core, grpc_server, ops, channel, readiness)
    service.tasks = [asyncio.create_task(tenants.run())]
    readiness.ready = True
    log.info(
        "listening",
        extra=fields(
            grpc=f"{settings.grpc_host}:{service.grpc_port}",
            ops=f"{settings.ops_host}:{service.ops_port}",
            binding=settings.binding_address,
            redis=settings.redis_url,
        ),
    )
    return service
