"""``Actions`` of a menu call at one device, all over gRPC with the menu's
own identity: PIN checks by the auth service (lockout and audit there,
channel "voice-menu"), sessions by the binding service. What the caller
keys in for "extension" is resolved by the directory first: an extension,
a DID or a caller-ID number (``DirectoryLookup.login_name``)."""

from __future__ import annotations

import logging

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb

from services.kernel.logs import fields
from services.kernel.lookup import AmbiguousLoginName, DirectoryLookup

log = logging.getLogger(__name__)

CHANNEL = "voice-menu"


class DeviceActions:
    def __init__(
        self,
        auth: auth_pb2_grpc.AuthServiceAsyncStub,
        binding: binding_pb2_grpc.BindingServiceAsyncStub,
        lookup: DirectoryLookup,
        tenant: str,
        device: str,
        timeout: float,
    ) -> None:
        self._auth = auth
        self._binding = binding
        self._lookup = lookup
        self._tenant = tenant
        self._device = device
        self._timeout = timeout

    async def _user(self, typed: str) -> pb.UserRef | None:
        """The user ``typed`` names; None when it names more than one (a
        refusal). What names nobody goes as an extension, for the auth
        service to refuse as an unknown user (as slowly as a wrong PIN)."""
        try:
            user = await self._lookup.login_name(self._tenant, typed)
        except AmbiguousLoginName:
            log.info("menu_ambiguous_login", extra=fields(device=self._device))
            return None
        if user is None:
            return pb.UserRef(tenant=self._tenant, extension=typed)
        return pb.UserRef(tenant=user.tenant.id, extension=user.extension)

    async def ambiguous(self, typed: str) -> bool:
        return await self._user(typed) is None

    async def verify_pin(self, extension: str, pin: str) -> apb.VerifyPinResponse:
        user = await self._user(extension)
        if user is None:
            return apb.VerifyPinResponse(result=apb.PIN_RESULT_UNKNOWN_USER)
        return await self._auth.VerifyPin(
            apb.VerifyPinRequest(user=user, device_id=self._device, pin=pin, channel=CHANNEL),
            timeout=self._timeout,
        )

    async def device(self) -> pb.DeviceState:
        return await self._binding.GetByDevice(
            pb.GetByDeviceRequest(device_id=self._device), timeout=self._timeout
        )

    async def login(self, extension: str, takeover: bool) -> pb.LoginResponse:
        user = await self._user(extension)
        if user is None:
            return pb.LoginResponse(result=pb.LOGIN_RESULT_UNKNOWN_USER)
        return await self._binding.Login(
            pb.LoginRequest(
                device_id=self._device,
                user=user,
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
        """End the user's session wherever it is (not only at this device).
        Called after ``verify_pin`` accepted ``extension``, which an
        ambiguous name never passes."""
        user = await self._user(extension)
        if user is None:
            return pb.LogoutResponse()
        return await self._binding.Logout(
            pb.LogoutRequest(user=user, actor=f"user:{CHANNEL}"),
            timeout=self._timeout,
        )
