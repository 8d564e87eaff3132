"""gRPC transport: AuthService over the core.

PIN outcomes are results in the responses; gRPC errors are kept for a
malformed request or a PIN against the policy (INVALID_ARGUMENT), an unknown
user or device in SetPin/Unlock (NOT_FOUND), and Redis or the binding
service not answering (UNAVAILABLE, worth a retry).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc
from redis.exceptions import RedisError

from services.auth.core import AuthCore
from services.auth.errors import InvalidRequest, NotFound, PinPolicyError, Unavailable

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]

T = TypeVar("T")


async def _call(context: Context, work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except (InvalidRequest, PinPolicyError) as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise  # abort raises; this only satisfies the type checker
    except NotFound as exc:
        await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        raise
    except Unavailable as exc:
        await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        raise
    except (RedisError, OSError) as exc:
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"redis: {exc}")
        raise


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, core: AuthCore) -> None:
        self._core = core

    async def VerifyPin(
        self, request: apb.VerifyPinRequest, context: Context
    ) -> apb.VerifyPinResponse:
        return await _call(
            context,
            lambda: self._core.verify_pin(
                request.user, request.device_id, request.pin, request.channel
            ),
        )

    async def LoginWithPin(
        self, request: apb.LoginWithPinRequest, context: Context
    ) -> apb.LoginWithPinResponse:
        return await _call(context, lambda: self._core.login_with_pin(request))

    async def SetPin(self, request: apb.SetPinRequest, context: Context) -> apb.SetPinResponse:
        async def work() -> apb.SetPinResponse:
            await self._core.set_pin(request.user, request.pin, request.actor)
            return apb.SetPinResponse()

        return await _call(context, work)

    async def Unlock(self, request: apb.UnlockRequest, context: Context) -> apb.UnlockResponse:
        user = request.user if request.HasField("user") else None

        async def work() -> apb.UnlockResponse:
            cleared = await self._core.unlock(user, request.device_id, request.actor)
            return apb.UnlockResponse(cleared=cleared)

        return await _call(context, work)
