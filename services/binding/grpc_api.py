"""gRPC transport: BindingService over the core.

Business outcomes are result enums in the responses; only a malformed request
(INVALID_ARGUMENT), an unknown device in GetByDevice (NOT_FOUND) and Redis
being unreachable (UNAVAILABLE, worth a retry) are gRPC errors.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc
from redis.exceptions import RedisError

from services.binding import metrics
from services.binding.core import BindingCore, InvalidRequest

T = TypeVar("T")
if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]


async def _call(method: str, context: Context, work: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    try:
        return await work()
    except InvalidRequest as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise  # abort raises; this line only satisfies the type checker
    except (RedisError, OSError) as exc:
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"redis: {exc}")
        raise
    finally:
        metrics.RPC_SECONDS.labels(method).observe(time.perf_counter() - started)


class BindingServicer(binding_pb2_grpc.BindingServiceServicer):
    def __init__(self, core: BindingCore) -> None:
        self._core = core

    async def Login(self, request: pb.LoginRequest, context: Context) -> pb.LoginResponse:
        return await _call(
            "Login",
            context,
            lambda: self._core.login(
                request.device_id,
                request.user,
                allow_takeover=request.allow_takeover,
                actor=request.actor,
            ),
        )

    async def Logout(self, request: pb.LogoutRequest, context: Context) -> pb.LogoutResponse:
        if bool(request.device_id) == request.HasField("user"):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "give exactly one of device_id and user"
            )
        reason = request.reason or pb.CHANGE_REASON_LOGOUT
        if reason not in (pb.CHANGE_REASON_LOGOUT, pb.CHANGE_REASON_OPERATOR):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "reason must be LOGOUT or OPERATOR"
            )
        if request.device_id:
            return await _call(
                "Logout",
                context,
                lambda: self._core.logout_device(
                    request.device_id, reason=reason, actor=request.actor
                ),
            )
        return await _call(
            "Logout",
            context,
            lambda: self._core.logout_user(request.user, reason=reason, actor=request.actor),
        )

    async def GetByDevice(self, request: pb.GetByDeviceRequest, context: Context) -> pb.DeviceState:
        state = await _call(
            "GetByDevice", context, lambda: self._core.get_by_device(request.device_id)
        )
        if state is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no device {request.device_id!r}")
        assert state is not None
        return state

    async def GetByUser(
        self, request: pb.GetByUserRequest, context: Context
    ) -> pb.GetByUserResponse:
        return await _call("GetByUser", context, lambda: self._core.get_by_user(request.user))

    async def List(self, request: pb.ListRequest, context: Context) -> pb.ListResponse:
        return await _call(
            "List", context, lambda: self._core.list(request.tenant or None, request.include_idle)
        )

    async def Expire(self, request: pb.ExpireRequest, context: Context) -> pb.ExpireResponse:
        async def work() -> pb.ExpireResponse:
            return pb.ExpireResponse(ended=await self._core.expire_due())

        return await _call("Expire", context, work)

    async def Route(self, request: pb.RouteRequest, context: Context) -> pb.RouteResponse:
        return await _call("Route", context, lambda: self._core.route(request))
