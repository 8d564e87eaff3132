"""The auth service (the PIN authority): the core and its gRPC API, with a
gRPC client of the binding service, in the shared service shell."""

import grpc
from hotdesk.v1 import auth_pb2, auth_pb2_grpc

from services.auth.binding_client import grpc_binding_login
from services.auth.core import AuthCore
from services.auth.grpc_api import POLICY, AuthServicer
from services.auth.settings import AuthSettings
from services.kernel.clock import Clock, now_ms
from services.kernel.service import ServiceShell


class AuthService(ServiceShell):
    grpc_service_name = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
    grpc_policy = POLICY
    settings: AuthSettings

    def __init__(self, settings: AuthSettings, *, clock: Clock = now_ms) -> None:
        super().__init__(settings)
        binding_login = grpc_binding_login(
            self.channel(settings.binding_address), settings.binding_timeout_seconds
        )
        self.core = AuthCore(self.redis, self.tenants, settings, binding_login, clock=clock)

    def register_grpc(self, server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(self.core), server)

    async def start_parts(self) -> None:
        """Nothing beyond the shell's: the core serves through gRPC."""

    def addresses(self) -> dict[str, str]:
        return super().addresses() | {"binding": self.settings.binding_address}


async def start_auth_service(settings: AuthSettings, *, clock: Clock = now_ms) -> AuthService:
    """Start the service in-process (ports 0: free ones, see ``grpc_port``
    and ``ops_port``); ``clock`` lets tests control time. ``stop()`` ends it."""
    service = AuthService(settings, clock=clock)
    await service.start()
    return service
