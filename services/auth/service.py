"""The auth service: the core and its gRPC API, with a gRPC client of the
binding service, in the shared service shell."""

import grpc
from hotdesk.v1 import auth_pb2, auth_pb2_grpc, binding_pb2_grpc

from services.auth.binding_client import grpc_binding_login
from services.auth.core import AuthCore
from services.auth.grpc_api import POLICY, AuthServicer
from services.auth.menu.edge_signature import EdgeSignature, MenuKeyError, load_key
from services.auth.menu.server import VoiceMenu
from services.auth.settings import AuthSettings
from services.kernel.clock import Clock, now_ms
from services.kernel.service import ServiceShell


def _edge_signature(settings: AuthSettings) -> EdgeSignature:
    """The menu believes only signed device headers: no key, no menu."""
    if settings.menu_key_file is None:
        raise MenuKeyError(
            "the voice menu needs HOTDESK_AUTH_MENU_KEY_FILE (the key the edge signs "
            "X-Hotdesk-Device with), or HOTDESK_AUTH_MENU_ENABLED=false"
        )
    return EdgeSignature(load_key(settings.menu_key_file), settings.menu_signature_max_age_seconds)


class AuthService(ServiceShell):
    grpc_service_name = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
    grpc_policy = POLICY
    settings: AuthSettings

    def __init__(self, settings: AuthSettings, *, clock: Clock = now_ms) -> None:
        super().__init__(settings)
        self._binding_channel = self.channel(settings.binding_address)
        binding_login = grpc_binding_login(self._binding_channel, settings.binding_timeout_seconds)
        self.core = AuthCore(self.redis, self.tenants, settings, binding_login, clock=clock)
        self.menu: VoiceMenu | None = None
        # Checked before anything starts: without its key the menu refuses.
        self._signature = _edge_signature(settings) if settings.menu_enabled else None

    def register_grpc(self, server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(self.core), server)

    async def start_parts(self) -> None:
        if self._signature is not None:
            self.menu = VoiceMenu(
                self.settings,
                self.core,
                binding_pb2_grpc.BindingServiceStub(self._binding_channel),
                self.tenants,
                self.redis,
                self._signature,
            )
            await self.menu.start()
            self.parts.push_async_callback(self.menu.stop)

    def addresses(self) -> dict[str, str]:
        menu = (
            {"voice_menu": f"udp:{self.settings.menu_host}:{self.menu.port}"} if self.menu else {}
        )
        return super().addresses() | {"binding": self.settings.binding_address} | menu


async def start_auth_service(settings: AuthSettings, *, clock: Clock = now_ms) -> AuthService:
    """Start the service in-process (ports 0: free ones, see ``grpc_port``
    and ``ops_port``); ``clock`` lets tests control time. ``stop()`` ends it."""
    service = AuthService(settings, clock=clock)
    await service.start()
    return service
