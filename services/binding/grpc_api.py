"""gRPC transport: BindingService over the core.

Business outcomes are result enums in the responses; errors are the
kernel's (the interceptor chain maps them and checks ``POLICY``). Who acted
is the caller's certificate identity, never what the request says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc

from services.binding.core import BindingCore
from services.kernel.errors import InvalidArgument, NotFound
from services.kernel.identity import ADMIN, OPERATOR, actor, peer_identity
from services.kernel.rpc import Policy

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]

AUTH, MENU, PROVISION = "service:auth", "service:menu", "service:provision"
# Only the auth service and the voice menu (PIN checked by auth) and
# operators (directly, or through the admin service) log users in; the
# phone screen (provision) logs out; Kamailio asks over HTTP, not here.
POLICY: Policy = {
    "Login": frozenset({AUTH, MENU, ADMIN, OPERATOR}),
    "Logout": frozenset({AUTH, MENU, PROVISION, ADMIN, OPERATOR}),
    "GetByDevice": frozenset({AUTH, MENU, PROVISION, ADMIN, OPERATOR}),
    "GetByUser": frozenset({AUTH, PROVISION, ADMIN, OPERATOR}),
    "List": frozenset({PROVISION, OPERATOR}),
    "Expire": frozenset({OPERATOR}),
    "Route": frozenset({OPERATOR}),
    "SetSessionLocation": frozenset({OPERATOR}),
}


class BindingServicer(binding_pb2_grpc.BindingServiceServicer):
    def __init__(self, core: BindingCore) -> None:
        self._core = core

    async def Login(self, request: pb.LoginRequest, context: Context) -> pb.LoginResponse:
        return await self._core.login(
            request.device_id,
            request.user,
            allow_takeover=request.allow_takeover,
            actor=actor(peer_identity(context), request.actor),
        )

    async def Logout(self, request: pb.LogoutRequest, context: Context) -> pb.LogoutResponse:
        if bool(request.device_id) == request.HasField("user"):
            raise InvalidArgument("give exactly one of device_id and user")
        reason = request.reason or pb.CHANGE_REASON_LOGOUT
        if reason not in (pb.CHANGE_REASON_LOGOUT, pb.CHANGE_REASON_OPERATOR):
            raise InvalidArgument("reason must be LOGOUT or OPERATOR")
        who = actor(peer_identity(context), request.actor)
        if request.device_id:
            return await self._core.logout_device(request.device_id, reason=reason, actor=who)
        return await self._core.logout_user(request.user, reason=reason, actor=who)

    async def GetByDevice(self, request: pb.GetByDeviceRequest, context: Context) -> pb.DeviceState:
        state = await self._core.get_by_device(request.device_id)
        if state is None:
            raise NotFound(f"no device {request.device_id!r}")
        return state

    async def GetByUser(
        self, request: pb.GetByUserRequest, context: Context
    ) -> pb.GetByUserResponse:
        return await self._core.get_by_user(request.user)

    async def List(self, request: pb.ListRequest, context: Context) -> pb.ListResponse:
        return await self._core.list(request.tenant or None, request.include_idle)

    async def Expire(self, request: pb.ExpireRequest, context: Context) -> pb.ExpireResponse:
        return pb.ExpireResponse(ended=await self._core.expire_due())

    async def Route(self, request: pb.RouteRequest, context: Context) -> pb.RouteResponse:
        return await self._core.route(request)

    async def SetSessionLocation(
        self, request: pb.SetSessionLocationRequest, context: Context
    ) -> pb.SetSessionLocationResponse:
        return await self._core.set_session_location(
            request.device_id,
            request.location_json,
            actor(peer_identity(context), request.actor),
        )
