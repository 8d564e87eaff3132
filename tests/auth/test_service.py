"""The auth service over gRPC, logging in through the real binding service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.service import start_auth_service
from services.auth.settings import AuthSettings
from services.binding.service import start_binding_service
from services.kernel.tenants import TenantConfig
from tests.support.redis_server import RedisServer
from tests.support.services import auth_settings, binding_settings


@pytest.fixture
async def auth(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig
) -> AsyncIterator[auth_pb2_grpc.AuthServiceAsyncStub]:
    binding = await start_binding_service(binding_settings(redis_server.url))
    service = await start_auth_service(auth_settings(redis_server.url, binding.grpc_port))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            status = await health.Check(
                health_pb2.HealthCheckRequest(service="hotdesk.v1.AuthService")
            )
            assert status.status == health_pb2.HealthCheckResponse.SERVING
            yield auth_pb2_grpc.AuthServiceStub(channel)
    finally:
        await service.stop()
        await binding.stop()


async def test_login_with_pin_over_grpc(auth: auth_pb2_grpc.AuthServiceAsyncStub) -> None:
    bob = pb.UserRef(tenant="acme", extension="1002")
    r = await auth.LoginWithPin(
        apb.LoginWithPinRequest(user=bob, device_id="hd3002", pin="8264", channel="phone-screen")
    )
    assert r.pin.result == apb.PIN_RESULT_OK
    assert r.login.result == pb.LOGIN_RESULT_LOGGED_IN
    assert (r.login.binding.device_id, r.login.binding.extension) == ("hd3002", "1002")
    carol = pb.UserRef(tenant="acme", extension="1003")
    occupied = await auth.LoginWithPin(
        apb.LoginWithPinRequest(user=carol, device_id="hd3002", pin="5173", channel="voice-menu")
    )
    assert occupied.login.result == pb.LOGIN_RESULT_DEVICE_OCCUPIED
    assert occupied.login.occupant.extension == "1002"
    taken = await auth.LoginWithPin(
        apb.LoginWithPinRequest(
            user=carol, device_id="hd3002", pin="5173", channel="voice-menu", allow_takeover=True
        )
    )
    assert taken.login.result == pb.LOGIN_RESULT_LOGGED_IN
    assert [b.extension for b in taken.login.ended] == ["1002"]


async def test_grpc_errors(auth: auth_pb2_grpc.AuthServiceAsyncStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as weak:
        await auth.SetPin(
            apb.SetPinRequest(user=pb.UserRef(tenant="acme", extension="1001"), pin="1111")
        )
    assert weak.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "repeat" in (weak.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await auth.SetPin(
            apb.SetPinRequest(user=pb.UserRef(tenant="acme", extension="1999"), pin="9731")
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as no_device:
        await auth.VerifyPin(
            apb.VerifyPinRequest(user=pb.UserRef(tenant="acme", extension="1001"), pin="4711")
        )
    assert no_device.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    unlocked = await auth.Unlock(
        apb.UnlockRequest(user=pb.UserRef(tenant="acme", extension="1001"), actor="operator:t")
    )
    assert unlocked.cleared == 0


async def test_production_argon2_cost(redis: Redis, acme: TenantConfig) -> None:
    """Default argon2id parameters (64 MiB, t=3, p=4), end to end."""
    from services.auth.core import AuthCore
    from services.kernel.tenants import TenantCache

    tenants = TenantCache(redis)
    await tenants.refresh()

    async def no_login(req: pb.LoginRequest) -> pb.LoginResponse:
        raise AssertionError("not used")

    core = AuthCore(redis, tenants, AuthSettings(), no_login)
    user = pb.UserRef(tenant="acme", extension="1001")
    await core.set_pin(user, "9731", "operator:t")
    stored = await redis.get("hd:{acme}:pin:acme:1001")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (await core.verify_pin(user, "hd3001", "9731", "t")).result == apb.PIN_RESULT_OK
