"""The binding service: the core, its gRPC API, the Kamailio endpoint and
the expiry sweeper, in the shared service shell."""

import grpc
from hotdesk.v1 import binding_pb2, binding_pb2_grpc

from services.binding.core import BindingCore
from services.binding.expiry import run_sweeper
from services.binding.grpc_api import POLICY, BindingServicer
from services.binding.http_api import LookupServer
from services.binding.retention import run_trimmer
from services.binding.settings import BindingSettings
from services.kernel.clock import Clock, now_ms
from services.kernel.service import ServiceShell


class BindingService(ServiceShell):
    grpc_service_name = binding_pb2.DESCRIPTOR.services_by_name["BindingService"].full_name
    grpc_policy = POLICY
    settings: BindingSettings

    def __init__(self, settings: BindingSettings, *, clock: Clock = now_ms) -> None:
        super().__init__(settings)
        self._clock = clock
        self.core = BindingCore(
            self.redis,
            self.tenants,
            clock=clock,
            stream_maxlen=settings.stream_maxlen,
            audit_maxlen=settings.audit_maxlen,
            replica_acks=settings.redis_replica_acks,
            replica_ack_timeout_ms=settings.redis_replica_ack_timeout_ms,
        )
        self._http = LookupServer(self.core)

    @property
    def http_port(self) -> int:
        return self._http.port

    def register_grpc(self, server: grpc.aio.Server) -> None:
        binding_pb2_grpc.add_BindingServiceServicer_to_server(BindingServicer(self.core), server)

    async def start_parts(self) -> None:
        s = self.settings
        await self._http.start(s.http_host, s.http_port, shared=s.shared_ports)
        self.parts.push_async_callback(self._http.stop)
        self.parts.push_async_callback(self.core.aclose)
        self.background(run_sweeper(self.core, s.expiry_interval_seconds))
        self.background(
            run_trimmer(
                self.redis,
                self.tenants,
                self._clock,
                s.stream_max_age_seconds,
                s.stream_trim_interval_seconds,
            )
        )

    def addresses(self) -> dict[str, str]:
        return super().addresses() | {"http": f"{self.settings.http_host}:{self.http_port}"}


async def start_binding_service(
    settings: BindingSettings, *, clock: Clock = now_ms
) -> BindingService:
    """Start the service in-process (ports 0: free ones, see the ``*_port``
    properties); ``clock`` lets tests control time."""
    service = BindingService(settings, clock=clock)
    await service.start()
    return service
