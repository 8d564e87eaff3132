"""The auth service over gRPC (in-process, real ports), logging in through
the real binding service; and ``python -m services.auth`` as a process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.core import AuthCore
from services.auth.service import AuthService, start_auth_service
from services.auth.settings import AuthSettings
from services.binding.service import start_binding_service
from services.kernel import keys
from services.kernel.tenants import TenantCache, TenantConfig
from tests.support import pki
from tests.support.clock import FakeClock
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.services import auth_settings, binding_settings

SERVICE = "hotdesk.v1.AuthService"
ROOT = Path(__file__).resolve().parents[2]


def user(ext: str = "1001") -> pb.UserRef:
    return pb.UserRef(tenant="acme", extension=ext)


@dataclass
class Running:
    stub: auth_pb2_grpc.AuthServiceAsyncStub
    channel: grpc.aio.Channel
    service: AuthService


@pytest.fixture
async def auth(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig, clock: FakeClock
) -> AsyncIterator[Running]:
    binding = await start_binding_service(binding_settings(redis_server.url), clock=clock)
    service = await start_auth_service(
        auth_settings(redis_server.url, binding.grpc_port), clock=clock
    )
    try:
        async with pki.aio_channel(f"127.0.0.1:{service.grpc_port}") as channel:
            yield Running(auth_pb2_grpc.AuthServiceStub(channel), channel, service)
    finally:
        await service.stop()
        await binding.stop()


async def health(channel: grpc.aio.Channel, service: str = SERVICE) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service)
    )
    return int(reply.status)


async def test_health_and_ops_endpoints(auth: Running) -> None:
    assert await health(auth.channel) == health_pb2.HealthCheckResponse.SERVING
    assert await health(auth.channel, "") == health_pb2.HealthCheckResponse.SERVING
    await auth.stub.VerifyPin(
        apb.VerifyPinRequest(user=user(), device_id="hd3001", pin="4711", channel="api")
    )
    ops = f"http://127.0.0.1:{auth.service.ops_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{ops}/readyz") as ready:
            assert ready.status == 200
        async with http.get(f"{ops}/metrics") as metrics:
            text = await metrics.text()
    assert 'hotdesk_auth_pin_attempts_total{channel="api",result="ok"}' in text
    assert "hotdesk_auth_pin_verify_seconds_bucket" in text


async def test_login_with_pin_over_grpc(auth: Running) -> None:
    bob = user("1002")
    r = await auth.stub.LoginWithPin(
        apb.LoginWithPinRequest(user=bob, device_id="hd3002", pin="8264", channel="phone-screen")
    )
    assert r.pin.result == apb.PIN_RESULT_OK
    assert r.login.result == pb.LOGIN_RESULT_LOGGED_IN
    assert (r.login.binding.device_id, r.login.binding.extension) == ("hd3002", "1002")
    carol = user("1003")
    occupied = await auth.stub.LoginWithPin(
        apb.LoginWithPinRequest(user=carol, device_id="hd3002", pin="5173", channel="voice-menu")
    )
    assert occupied.login.result == pb.LOGIN_RESULT_DEVICE_OCCUPIED
    assert occupied.login.occupant.extension == "1002"
    taken = await auth.stub.LoginWithPin(
        apb.LoginWithPinRequest(
            user=carol, device_id="hd3002", pin="5173", channel="voice-menu", allow_takeover=True
        )
    )
    assert taken.login.result == pb.LOGIN_RESULT_LOGGED_IN
    assert [b.extension for b in taken.login.ended] == ["1002"]
    wrong = await auth.stub.LoginWithPin(
        apb.LoginWithPinRequest(user=bob, device_id="hd3002", pin="0000", allow_takeover=True)
    )
    assert wrong.pin.result == apb.PIN_RESULT_WRONG_PIN and not wrong.HasField("login")


async def test_backoff_and_unlock_over_grpc(auth: Running, redis: Redis, clock: FakeClock) -> None:
    def verify(pin: str) -> apb.VerifyPinRequest:
        return apb.VerifyPinRequest(user=user(), device_id="hd3001", pin=pin, channel="api")

    for _ in range(3):
        await auth.stub.VerifyPin(verify("0000"))
    held = await auth.stub.VerifyPin(verify("4711"))
    assert (held.result, held.retry_after_seconds) == (apb.PIN_RESULT_BACKOFF, 30)
    clock.advance(10)
    assert (await auth.stub.VerifyPin(verify("4711"))).retry_after_seconds == 20
    unlocked = await auth.stub.Unlock(
        apb.UnlockRequest(user=user(), device_id="hd3001", actor="operator:ann")
    )
    assert unlocked.cleared == 1
    assert (await auth.stub.VerifyPin(verify("4711"))).result == apb.PIN_RESULT_OK
    device_only = await auth.stub.Unlock(apb.UnlockRequest(device_id="hd3001", actor="op:b"))
    assert device_only.cleared == 1
    unlocks = [e for _, e in await redis.xrange(keys.audit("acme")) if e["event"] == "unlock"]
    # Who acted is the caller's certificate, whatever the request said.
    assert [(e["actor"], e["cleared"]) for e in unlocks] == [("operator:test", "1")] * 2


@pytest.mark.parametrize(
    ("method", "request_", "code", "detail"),
    [
        ("SetPin", apb.SetPinRequest(user=user(), pin="1111"), "INVALID_ARGUMENT", "repeat"),
        ("SetPin", apb.SetPinRequest(user=user("1999"), pin="9731"), "NOT_FOUND", "1999"),
        ("SetPin", apb.SetPinRequest(pin="9731"), "INVALID_ARGUMENT", "tenant and extension"),
        ("VerifyPin", apb.VerifyPinRequest(user=user(), pin="4711"), "INVALID_ARGUMENT", "device"),
        (
            "VerifyPin",
            apb.VerifyPinRequest(device_id="hd3001", pin="4711"),
            "INVALID_ARGUMENT",
            "tenant and extension",
        ),
        ("LoginWithPin", apb.LoginWithPinRequest(user=user()), "INVALID_ARGUMENT", "device"),
        ("Unlock", apb.UnlockRequest(), "INVALID_ARGUMENT", "user or a device"),
        ("Unlock", apb.UnlockRequest(device_id="zz"), "NOT_FOUND", "zz"),
        ("Unlock", apb.UnlockRequest(user=user("1999")), "NOT_FOUND", "1999"),
    ],
)
async def test_grpc_errors(
    auth: Running, method: str, request_: object, code: str, detail: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await getattr(auth.stub, method)(request_)
    assert error.value.code() == grpc.StatusCode[code]
    assert detail in (error.value.details() or "")


async def test_login_with_pin_while_the_binding_service_is_down(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig
) -> None:
    service = await start_auth_service(auth_settings(redis_server.url, free_port()))
    try:
        async with pki.aio_channel(f"127.0.0.1:{service.grpc_port}") as channel:
            stub = auth_pb2_grpc.AuthServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await stub.LoginWithPin(
                    apb.LoginWithPinRequest(user=user(), device_id="hd3001", pin="4711")
                )
    finally:
        await service.stop()
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "binding service" in (error.value.details() or "")


async def test_production_argon2_cost(redis: Redis, acme: TenantConfig) -> None:
    """Default argon2id parameters (64 MiB, t=3, p=4), end to end."""
    tenants = TenantCache(redis)
    await tenants.refresh()

    async def no_login(req: pb.LoginRequest) -> pb.LoginResponse:
        raise AssertionError("not used")

    core = AuthCore(redis, tenants, AuthSettings(), no_login)
    await core.set_pin(user(), "9731", "operator:t")
    stored = await redis.get(keys.pin("acme", "acme", "1001"))
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (await core.verify_pin(user(), "hd3001", "9731", "t")).result == apb.PIN_RESULT_OK
    assert (await core.verify_pin(user(), "hd3001", "9732", "t")).result == (
        apb.PIN_RESULT_WRONG_PIN
    )


async def test_process_serves_until_sigterm(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig, tmp_path: Path
) -> None:
    """``python -m services.auth``: ready, SERVING, then SIGTERM ends it cleanly."""
    grpc_port, ops_port = free_port(), free_port()
    env = os.environ | {
        "HOTDESK_AUTH_REDIS_URL": redis_server.url,
        "HOTDESK_AUTH_GRPC_PORT": str(grpc_port),
        "HOTDESK_AUTH_OPS_PORT": str(ops_port),
        "HOTDESK_AUTH_LOG_FORMAT": "json",
        **pki.tls_env("HOTDESK_AUTH_", "service:auth"),
    }
    log = tmp_path / "auth.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.auth", cwd=ROOT, env=env, stderr=out
        )
    try:
        async with pki.aio_channel(f"127.0.0.1:{grpc_port}") as channel:
            await asyncio.wait_for(channel.channel_ready(), timeout=20)
            assert await health(channel) == health_pb2.HealthCheckResponse.SERVING
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = log.read_text()
    assert '"event":"listening"' in lines and '"event":"stopped"' in lines
