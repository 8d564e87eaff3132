"""The voice-menu service: the SIP/RTP menu with gRPC clients of the auth
and binding services, in the shared service shell (gRPC serves health
only; Redis is read as the ``menu`` ACL user, the directory only)."""

import grpc
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc

from services.kernel.service import ServiceShell
from services.menu.edge_signature import EdgeSignature, MenuKeyError, load_key
from services.menu.server import VoiceMenu
from services.menu.settings import MenuSettings


def _edge_signature(settings: MenuSettings) -> EdgeSignature:
    """The menu believes only signed device headers: no key, no menu."""
    if settings.key_file is None:
        raise MenuKeyError(
            "the voice menu needs HOTDESK_MENU_KEY_FILE (the key the edge signs "
            "X-Hotdesk-Device with)"
        )
    return EdgeSignature(load_key(settings.key_file), settings.signature_max_age_seconds)


class MenuService(ServiceShell):
    grpc_service_name = ""
    grpc_policy = {}
    settings: MenuSettings

    def __init__(self, settings: MenuSettings) -> None:
        super().__init__(settings)
        # Checked before anything starts: without its key the menu refuses.
        self._signature = _edge_signature(settings)
        self._menu: VoiceMenu | None = None

    @property
    def menu(self) -> VoiceMenu:
        assert self._menu is not None, "not started"
        return self._menu

    def register_grpc(self, server: grpc.aio.Server) -> None:
        """No API of its own: the shell adds health."""

    async def start_parts(self) -> None:
        s = self.settings
        self._menu = VoiceMenu(
            s,
            auth_pb2_grpc.AuthServiceStub(self.channel(s.auth_address)),
            binding_pb2_grpc.BindingServiceStub(self.channel(s.binding_address)),
            self.tenants,
            self.redis,
            self._signature,
        )
        await self._menu.start()
        self.parts.push_async_callback(self._menu.stop)

    def addresses(self) -> dict[str, str]:
        s = self.settings
        return super().addresses() | {
            "voice_menu": f"udp:{s.sip_host}:{self.menu.port}",
            "auth": s.auth_address,
            "binding": s.binding_address,
        }
