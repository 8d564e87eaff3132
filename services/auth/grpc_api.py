"""gRPC transport: AuthService over the core.

PIN outcomes are results in the responses; errors are the kernel's (the
interceptor chain maps them and checks ``POLICY``). Who acted is the
caller's certificate identity, never what the request says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc

from services.auth.core import AuthCore
from services.kernel.identity import ADMIN, OPERATOR, actor, peer_identity
from services.kernel.rpc import Policy

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]

PROVISION, MENU = "service:provision", "service:menu"
# The phone screen (provision) checks PINs and logs in with one; the voice
# menu checks PINs (it logs in through the binding service itself); only
# operators (directly, or through the admin service) set PINs or clear
# lockouts.
POLICY: Policy = {
    "VerifyPin": frozenset({PROVISION, MENU, OPERATOR}),
    "LoginWithPin": frozenset({PROVISION, OPERATOR}),
    "SetPin": frozenset({ADMIN, OPERATOR}),
    "Unlock": frozenset({ADMIN, OPERATOR}),
}


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, core: AuthCore) -> None:
        self._core = core

    async def VerifyPin(
        self, request: apb.VerifyPinRequest, context: Context
    ) -> apb.VerifyPinResponse:
        return await self._core.verify_pin(
            request.user, request.device_id, request.pin, request.channel
        )

    async def LoginWithPin(
        self, request: apb.LoginWithPinRequest, context: Context
    ) -> apb.LoginWithPinResponse:
        return await self._core.login_with_pin(request)

    async def SetPin(self, request: apb.SetPinRequest, context: Context) -> apb.SetPinResponse:
        await self._core.set_pin(
            request.user, request.pin, actor(peer_identity(context), request.actor)
        )
        return apb.SetPinResponse()

    async def Unlock(self, request: apb.UnlockRequest, context: Context) -> apb.UnlockResponse:
        user = request.user if request.HasField("user") else None
        who = actor(peer_identity(context), request.actor)
        return apb.UnlockResponse(cleared=await self._core.unlock(user, request.device_id, who))
