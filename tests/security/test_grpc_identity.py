"""Service identity: gRPC is mutual TLS only, each method checks who may
call it, and the audit trail records the certificate, not the request."""

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.service import AuthService, start_auth_service
from services.binding.service import BindingService, start_binding_service
from services.devstack.pki import LOCAL_HOSTS, LocalCa
from services.kernel import keys
from services.kernel.tenants import TenantConfig
from tests.support import pki, seed
from tests.support.redis_server import RedisServer
from tests.support.services import auth_settings, binding_settings

LOGIN = pb.LoginRequest(
    device_id="hd3001",
    user=pb.UserRef(tenant="acme", extension="1001"),
    actor="operator:somebody-else",
)


@pytest.fixture
async def services(
    redis_server: RedisServer, redis: Redis
) -> AsyncIterator[tuple[BindingService, AuthService]]:
    acme = await seed.tenant(redis, TenantConfig(id="acme", domain="acme.example"))
    await seed.user(redis, acme, "1001", "Alice")
    await seed.device(redis, acme, "hd3001")
    binding = await start_binding_service(binding_settings(redis_server.url))
    auth = await start_auth_service(auth_settings(redis_server.url, binding.grpc_port))
    yield binding, auth
    await auth.stop()
    await binding.stop()


async def _login(channel: grpc.aio.Channel) -> pb.LoginResponse:
    response: pb.LoginResponse = await binding_pb2_grpc.BindingServiceStub(channel).Login(
        LOGIN, timeout=5
    )
    return response


async def test_an_insecure_login_is_refused(services: tuple[BindingService, AuthService]) -> None:
    binding, _ = services
    async with grpc.aio.insecure_channel(f"127.0.0.1:{binding.grpc_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _login(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_tls_without_a_certificate_of_our_ca_is_refused(
    services: tuple[BindingService, AuthService], tmp_path: Path
) -> None:
    binding, _ = services
    address = f"127.0.0.1:{binding.grpc_port}"
    ca = pki.credentials(pki.OPERATOR).ca.read_bytes()
    # Server verified, but no client certificate at all ...
    anonymous = grpc.ssl_channel_credentials(root_certificates=ca)
    # ... and a client certificate of another CA, naming a trusted identity.
    other = LocalCa(tmp_path / "other-ca").issue("fake", "service:auth", LOCAL_HOSTS)
    impostor = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=other.key.read_bytes(),
        certificate_chain=other.cert.read_bytes(),
    )
    for credentials in (anonymous, impostor):
        async with grpc.aio.secure_channel(address, credentials) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _login(channel)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("identity", "allowed"),
    [
        ("service:auth", True),  # it checked the PIN
        ("service:menu", True),  # auth checked the PIN for it (VerifyPin)
        ("operator:ann", True),
        ("service:provision", False),  # the phone screen logs in through auth
        ("service:binding", False),
    ],
)
async def test_only_auth_the_menu_and_operators_log_users_in(
    services: tuple[BindingService, AuthService], redis: Redis, identity: str, allowed: bool
) -> None:
    binding, _ = services
    async with pki.aio_channel(f"127.0.0.1:{binding.grpc_port}", identity) as channel:
        if allowed:
            assert (await _login(channel)).result == pb.LOGIN_RESULT_LOGGED_IN
        else:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _login(channel)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    if allowed:
        (_, event), *_ = await redis.xrange(keys.events("acme"))
        # Who acted is the certificate; the request's own claim is ignored.
        assert event["actor"] == identity
    on_behalf = pb.LoginRequest(device_id="hd3001", user=LOGIN.user, actor="user:voice-menu")
    if identity in ("service:auth", "service:menu"):
        async with pki.aio_channel(f"127.0.0.1:{binding.grpc_port}", identity) as channel:
            stub = binding_pb2_grpc.BindingServiceStub(channel)
            await stub.Logout(pb.LogoutRequest(device_id="hd3001", actor="user:voice-menu"))
            await stub.Login(on_behalf, timeout=5)
        *_, (_, last) = await redis.xrange(keys.events("acme"))
        assert last["actor"] == f"{identity}/user:voice-menu"


async def test_only_operators_set_pins_or_unlock(
    services: tuple[BindingService, AuthService],
) -> None:
    _, auth = services
    set_pin = apb.SetPinRequest(user=pb.UserRef(tenant="acme", extension="1001"), pin="2580")
    unlock = apb.UnlockRequest(user=pb.UserRef(tenant="acme", extension="1001"))
    for identity in ("service:provision", "service:binding", "service:auth", "service:menu"):
        async with pki.aio_channel(f"127.0.0.1:{auth.grpc_port}", identity) as channel:
            stub = auth_pb2_grpc.AuthServiceStub(channel)
            for call in (stub.SetPin(set_pin, timeout=5), stub.Unlock(unlock, timeout=5)):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await call
                assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    async with pki.aio_channel(f"127.0.0.1:{auth.grpc_port}", "operator:ann") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        await stub.SetPin(set_pin, timeout=5)
        assert (await stub.Unlock(unlock, timeout=5)).cleared == 0


async def test_the_menu_checks_pins_but_logs_in_only_through_binding(
    services: tuple[BindingService, AuthService],
) -> None:
    """The voice menu may ask auth whether a PIN is right, nothing more of
    auth (its logins go to the binding service, which it may call)."""
    _, auth = services
    alice = pb.UserRef(tenant="acme", extension="1001")
    async with pki.aio_channel(f"127.0.0.1:{auth.grpc_port}", "service:menu") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        checked = await stub.VerifyPin(
            apb.VerifyPinRequest(user=alice, device_id="hd3001", pin="0000", channel="voice-menu"),
            timeout=5,
        )
        assert checked.result != apb.PIN_RESULT_OK
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.LoginWithPin(
                apb.LoginWithPinRequest(user=alice, device_id="hd3001", pin="0000"), timeout=5
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def _served_serial(port: int) -> int:
    """The serial of the certificate the gRPC port presents (a TLS
    handshake with an operator's certificate, as gRPC clients make it)."""
    operator = pki.credentials(pki.OPERATOR)
    context = ssl.create_default_context(cafile=str(operator.ca))
    context.load_cert_chain(str(operator.cert), str(operator.key))
    context.set_alpn_protocols(["h2"])
    return pki.served_serial(port, context)


async def test_a_renewed_service_certificate_is_served_without_a_restart(
    redis_server: RedisServer, redis: Redis, tmp_path: Path
) -> None:
    """The service's certificate files are rewritten (as cert-manager does):
    the next connection gets the new certificate, calls keep working."""
    live = pki.credentials("service:binding")
    cert, key = tmp_path / "binding.crt", tmp_path / "binding.key"
    cert.write_bytes(live.cert.read_bytes())
    key.write_bytes(live.key.read_bytes())
    settings = binding_settings(redis_server.url).model_copy(
        update={"grpc_tls_cert_file": cert, "grpc_tls_key_file": key}
    )
    binding = await start_binding_service(settings)
    try:
        before = await asyncio.to_thread(_served_serial, binding.grpc_port)
        renewed = LocalCa(live.ca.parent).issue("binding-renewed", "service:binding", LOCAL_HOSTS)
        key.write_bytes(renewed.key.read_bytes())
        cert.write_bytes(renewed.cert.read_bytes())
        after = await asyncio.to_thread(_served_serial, binding.grpc_port)
        assert after != before
        assert after == x509.load_pem_x509_certificate(renewed.cert.read_bytes()).serial_number
        async with pki.aio_channel(f"127.0.0.1:{binding.grpc_port}") as channel:
            stub = binding_pb2_grpc.BindingServiceStub(channel)
            await stub.List(pb.ListRequest(), timeout=5)
    finally:
        await binding.stop()
