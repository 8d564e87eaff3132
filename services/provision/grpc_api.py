"""gRPC transport: ProvisionService over the core. A malformed request is
INVALID_ARGUMENT, an unknown user/device/profile NOT_FOUND, Redis
unreachable UNAVAILABLE."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from hotdesk.v1 import provision_pb2 as pb
from hotdesk.v1 import provision_pb2_grpc
from redis.exceptions import RedisError

from services.provision.core import InvalidRequest, NotFound, ProvisionCore, push_result_enum

T = TypeVar("T")
if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]

_STATUS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], grpc.StatusCode], ...] = (
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    ((RedisError, OSError), grpc.StatusCode.UNAVAILABLE),
)


async def _answer(context: Context, work: Awaitable[T]) -> T:
    try:
        return await work
    except Exception as exc:
        for kinds, code in _STATUS:
            if isinstance(exc, kinds):
                await context.abort(code, str(exc))
        raise


class ProvisionServicer(provision_pb2_grpc.ProvisionServiceServicer):
    def __init__(self, core: ProvisionCore) -> None:
        self._core = core

    async def GetProfile(self, request: pb.GetProfileRequest, context: Context) -> pb.Profile:
        return await _answer(context, self._core.get_profile(request))

    async def PutProfile(self, request: pb.PutProfileRequest, context: Context) -> pb.Profile:
        return await _answer(context, self._core.put_profile(request))

    async def DeleteProfile(
        self, request: pb.DeleteProfileRequest, context: Context
    ) -> pb.DeleteProfileResponse:
        deleted = await _answer(context, self._core.delete_profile(request))
        return pb.DeleteProfileResponse(deleted=deleted)

    async def ListProfiles(
        self, request: pb.ListProfilesRequest, context: Context
    ) -> pb.ListProfilesResponse:
        found = await _answer(context, self._core.list_profiles(request.user))
        return pb.ListProfilesResponse(profiles=found)

    async def GetDeviceProvisioning(
        self, request: pb.DeviceProvisioningRequest, context: Context
    ) -> pb.DeviceProvisioningResponse:
        found = await _answer(
            context, self._core.device_provisioning(request.tenant, request.device_id)
        )
        return pb.DeviceProvisioningResponse(devices=found)

    async def Resync(self, request: pb.ResyncRequest, context: Context) -> pb.ResyncResponse:
        outcome = await _answer(context, self._core.resync(request.device_id, request.actor))
        return pb.ResyncResponse(result=push_result_enum(outcome))
