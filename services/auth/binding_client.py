"""The binding service's Login, as the core calls it (``BindingLogin``)."""

import grpc
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc

from services.auth.core import BindingLogin
from services.kernel.errors import Unavailable


def grpc_binding_login(channel: grpc.aio.Channel, timeout: float) -> BindingLogin:
    """Login over gRPC with a deadline; any gRPC failure is ``Unavailable``
    (the PIN was right: the caller may simply try again)."""
    stub = binding_pb2_grpc.BindingServiceStub(channel)

    async def login(request: pb.LoginRequest) -> pb.LoginResponse:
        try:
            return await stub.Login(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"binding service: {exc.code().name}: {exc.details()}") from exc

    return login
