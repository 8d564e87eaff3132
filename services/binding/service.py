"""The binding service: the core, its gRPC API, the Kamailio endpoint and
the expiry sweeper, in the shared service shell."""

import asyncio
import logging

import grpc
from aiohttp import web
from hotdesk.v1 import binding_pb2, binding_pb2_grpc
from redis.exceptions import RedisError

from services.binding import metrics
from services.binding.core import BindingCore
from services.binding.grpc_api import BindingServicer
from services.binding.http_api import route_app
from services.binding.settings import BindingSettings
from services.kernel.logs import fields
from services.kernel.ops_http import start_site
from services.kernel.service import ServiceShell, port_of

log = logging.getLogger(__name__)


async def _sweep_expired(core: BindingCore, interval: float) -> None:
    """End sessions whose time is up, and refresh the active-sessions gauge."""
    while True:
        try:
            await core.expire_due()
            metrics.ACTIVE_SESSIONS.set(await core.active_sessions())
        except (RedisError, OSError) as exc:
            log.warning("expiry_sweep_failed", extra=fields(error=str(exc)))
        await asyncio.sleep(interval)


class BindingService(ServiceShell):
    grpc_service_name = binding_pb2.DESCRIPTOR.services_by_name["BindingService"].full_name
    settings: BindingSettings

    def __init__(self, settings: BindingSettings) -> None:
        super().__init__(settings)
        self.core = BindingCore(self.redis, self.tenants, stream_maxlen=settings.stream_maxlen)
        self._http: web.AppRunner | None = None

    @property
    def http_port(self) -> int:
        assert self._http is not None, "not started"
        return port_of(self._http)

    def register_grpc(self, server: grpc.aio.Server) -> None:
        binding_pb2_grpc.add_BindingServiceServicer_to_server(BindingServicer(self.core), server)

    async def start_parts(self) -> None:
        s = self.settings
        self._http = await start_site(route_app(self.core), s.http_host, s.http_port)
        self.closers.append(self._http.cleanup)
        interval = s.expiry_interval_seconds
        self.tasks.append(asyncio.create_task(_sweep_expired(self.core, interval)))

    def addresses(self) -> dict[str, str]:
        return super().addresses() | {"http": f"{self.settings.http_host}:{self.http_port}"}


async def start_binding_service(settings: BindingSettings) -> BindingService:
    service = BindingService(settings)
    await service.start()
    return service
