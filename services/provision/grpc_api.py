"""gRPC transport: ProvisionService over the core. Errors are the
kernel's (the interceptor chain maps them and checks ``POLICY``); who acted
is the caller's certificate identity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from hotdesk.v1 import provision_pb2 as pb
from hotdesk.v1 import provision_pb2_grpc

from services.kernel.identity import ADMIN, OPERATOR, actor, peer_identity
from services.kernel.rpc import Policy
from services.provision.core import ProvisionCore, push_result_enum

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]

# Profiles, provisioning state and resyncs are operators' business; the
# admin service does each for its (tenant-scoped) operators.
POLICY: Policy = {
    **{
        method: frozenset({ADMIN, OPERATOR})
        for method in ("GetProfile", "PutProfile", "DeleteProfile", "ListProfiles")
    },
    "GetDeviceProvisioning": frozenset({ADMIN, OPERATOR}),
    "Resync": frozenset({ADMIN, OPERATOR}),
}


class ProvisionServicer(provision_pb2_grpc.ProvisionServiceServicer):
    def __init__(self, core: ProvisionCore) -> None:
        self._core = core

    async def GetProfile(self, request: pb.GetProfileRequest, context: Context) -> pb.Profile:
        return await self._core.get_profile(request)

    async def PutProfile(self, request: pb.PutProfileRequest, context: Context) -> pb.Profile:
        request.actor = actor(peer_identity(context), request.actor)
        return await self._core.put_profile(request)

    async def DeleteProfile(
        self, request: pb.DeleteProfileRequest, context: Context
    ) -> pb.DeleteProfileResponse:
        request.actor = actor(peer_identity(context), request.actor)
        return pb.DeleteProfileResponse(deleted=await self._core.delete_profile(request))

    async def ListProfiles(
        self, request: pb.ListProfilesRequest, context: Context
    ) -> pb.ListProfilesResponse:
        return pb.ListProfilesResponse(profiles=await self._core.list_profiles(request.user))

    async def GetDeviceProvisioning(
        self, request: pb.DeviceProvisioningRequest, context: Context
    ) -> pb.DeviceProvisioningResponse:
        found = await self._core.device_provisioning(request.tenant, request.device_id)
        return pb.DeviceProvisioningResponse(devices=found)

    async def Resync(self, request: pb.ResyncRequest, context: Context) -> pb.ResyncResponse:
        who = actor(peer_identity(context), request.actor)
        outcome = await self._core.resync(request.device_id, who)
        return pb.ResyncResponse(result=push_result_enum(outcome))
