"""``Actions`` of a menu call at one device, all over gRPC with the menu's
own identity: PIN checks by the auth service (lockout and audit there,
channel "voice-menu"), sessions by the binding service."""

from __future__ import annotations

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb

CHANNEL = "voice-menu"


class DeviceActions:
    def __init__(
        self,
        auth: auth_pb2_grpc.AuthServiceAsyncStub,
        binding: binding_pb2_grpc.BindingServiceAsyncStub,
        tenant: str,
        device: str,
        timeout: float,
    ) -> None:
        self._auth = auth
        self._binding = binding
        self._tenant = tenant
        self._device = device
        self._timeout = timeout

    def _user(self, extension: str) -> pb.UserRef:
        return pb.UserRef(tenant=self._tenant, extension=extension)

    async def verify_pin(self, extension: str, pin: str) -> apb.VerifyPinResponse:
        return await self._auth.VerifyPin(
            apb.VerifyPinRequest(
                user=self._user(extension), device_id=self._device, pin=pin, channel=CHANNEL
            ),
            timeout=self._timeout,
        )

    async def device(self) -> pb.DeviceState:
        return await self._binding.GetByDevice(
            pb.GetByDeviceRequest(device_id=self._device), timeout=self._timeout
        )

    async def login(self, extension: str, takeover: bool) -> pb.LoginResponse:
        return await self._binding.Login(
            pb.LoginRequest(
                device_id=self._device,
                user=self._user(extension),
                allow_takeover=takeover,
                actor=f"user:{CHANNEL}",
            ),
            timeout=self._timeout,
        )

    async def logout(self) -> pb.LogoutResponse:
        return await self._binding.Logout(
            pb.LogoutRequest(device_id=self._device, actor=f"user:{CHANNEL}"),
            timeout=self._timeout,
        )

    async def logout_user(self, extension: str) -> pb.LogoutResponse:
        """End the user's session wherever it is (not only at this device)."""
        return await self._binding.Logout(
            pb.LogoutRequest(user=self._user(extension), actor=f"user:{CHANNEL}"),
            timeout=self._timeout,
        )
