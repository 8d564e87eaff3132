"""The running binding service: gRPC, the Kamailio HTTP endpoint, health,
metrics and graceful stop, all on real ports against a real redis-server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeAlias

import aiohttp
import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.binding.core import BindingCore
from services.binding.grpc_api import POLICY, BindingServicer
from services.binding.http_api import LookupServer, route_json
from services.binding.service import BindingService, start_binding_service
from services.kernel.grpc_server import start_grpc_server
from services.kernel.identity import TlsMaterial
from services.kernel.tenants import TenantCache, TenantConfig
from tests.binding.conftest import events
from tests.support import pki, seed
from tests.support.clock import FakeClock
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.services import binding_settings

Stub: TypeAlias = "binding_pb2_grpc.BindingServiceAsyncStub"  # exists for type checkers only
REPO = Path(__file__).resolve().parents[2]
ROUTE_QUERY = {
    "caller_user": "hd3001",
    "caller_domain": "acme.example",
    "callee_user": "1002",
    "callee_domain": "acme.example",
}


SERVICE_NAME = BindingService.grpc_service_name


@pytest.fixture
async def service(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig
) -> AsyncIterator[BindingService]:
    running = await start_binding_service(binding_settings(redis_server.url))
    yield running
    await running.stop()


@pytest.fixture
async def stub(service: BindingService) -> AsyncIterator[Stub]:
    async with pki.aio_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        yield binding_pb2_grpc.BindingServiceStub(channel)


def login_request(device: str, ext: str) -> pb.LoginRequest:
    return pb.LoginRequest(device_id=device, user=pb.UserRef(tenant="acme", extension=ext))


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


async def test_grpc_login_list_get_logout(stub: Stub) -> None:
    r = await stub.Login(
        pb.LoginRequest(
            device_id="hd3001", user=pb.UserRef(tenant="acme", extension="1001"), actor="op:t"
        )
    )
    assert r.result == pb.LOGIN_RESULT_LOGGED_IN
    busy = await stub.Login(login_request("hd3001", "1002"))
    assert (busy.result, busy.occupant.extension) == (pb.LOGIN_RESULT_DEVICE_OCCUPIED, "1001")
    listed = await stub.List(pb.ListRequest(tenant="acme", include_idle=True))
    assert [(d.device_id, d.binding.extension) for d in listed.devices] == [
        ("hd3001", "1001"),
        ("hd3002", ""),
        ("hd3003", ""),
        ("ph2001", ""),
    ]
    only_bound = await stub.List(pb.ListRequest())
    assert [d.device_id for d in only_bound.devices] == ["hd3001"]
    by_user = await stub.GetByUser(
        pb.GetByUserRequest(user=pb.UserRef(tenant="acme", extension="1001"))
    )
    assert by_user.known and by_user.binding.device_id == "hd3001"
    out = await stub.Logout(pb.LogoutRequest(user=pb.UserRef(tenant="acme", extension="1001")))
    assert (out.result, out.ended.device_id) == (pb.LOGOUT_RESULT_LOGGED_OUT, "hd3001")
    again = await stub.Logout(
        pb.LogoutRequest(device_id="hd3001", reason=pb.CHANGE_REASON_OPERATOR)
    )
    assert again.result == pb.LOGOUT_RESULT_NOT_LOGGED_IN
    state = await stub.GetByDevice(pb.GetByDeviceRequest(device_id="hd3001"))
    assert not state.HasField("binding") and state.generation == 2
    assert (await stub.Expire(pb.ExpireRequest())).ended == []


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.Login(pb.LoginRequest(user=pb.UserRef(tenant="acme", extension="1001"))),
        lambda s: s.Login(pb.LoginRequest(device_id="hd3001", user=pb.UserRef(tenant="acme"))),
        lambda s: s.Logout(
            pb.LogoutRequest(device_id="hd3001", user=pb.UserRef(tenant="acme", extension="1001"))
        ),
        lambda s: s.Logout(pb.LogoutRequest()),
        lambda s: s.Logout(pb.LogoutRequest(user=pb.UserRef(extension="1001"))),
        lambda s: s.Logout(pb.LogoutRequest(device_id="hd3001", reason=pb.CHANGE_REASON_TAKEOVER)),
        lambda s: s.GetByDevice(pb.GetByDeviceRequest()),
        lambda s: s.GetByUser(pb.GetByUserRequest()),
    ],
)
async def test_grpc_rejects_malformed_requests(
    stub: Stub, call: Callable[[Stub], Awaitable[object]]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(stub)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_grpc_unknown_device_is_not_found(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.GetByDevice(pb.GetByDeviceRequest(device_id="nope"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def _reflected_services(channel: grpc.aio.Channel) -> set[str]:
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = [
        r
        async for r in refl.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
    ]
    return {s.name for s in replies[0].list_services_response.service}


async def test_health_and_reflection_only_when_asked(
    service: BindingService, redis_server: RedisServer
) -> None:
    async with pki.aio_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in (SERVICE_NAME, ""):
            check = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert check.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as off:
            await _reflected_services(channel)
        assert off.value.code() == grpc.StatusCode.UNIMPLEMENTED
    debug = binding_settings(redis_server.url).model_copy(update={"grpc_reflection": True})
    debugging = await start_binding_service(debug)
    try:
        async with pki.aio_channel(f"127.0.0.1:{debugging.grpc_port}") as channel:
            names = await _reflected_services(channel)
        assert {"hotdesk.v1.BindingService", "grpc.health.v1.Health"} <= names
    finally:
        await debugging.stop()


async def test_graceful_stop_reports_not_serving_first(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig
) -> None:
    quick = binding_settings(redis_server.url).model_copy(update={"shutdown_grace_seconds": 0.3})
    service = await start_binding_service(quick)
    async with pki.aio_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        )
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(service.stop())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert not service.readiness
        await stopping
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await binding_pb2_grpc.BindingServiceStub(channel).List(pb.ListRequest())
        assert gone.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_http_route_is_flat_json_with_every_field(
    service: BindingService, stub: Stub
) -> None:
    await stub.Login(login_request("hd3002", "1002"))
    base = f"http://127.0.0.1:{service.http_port}/v1/route"
    async with aiohttp.ClientSession() as http:
        async with http.get(base, params=ROUTE_QUERY) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/json"
            body = await resp.json()
        for missing in ROUTE_QUERY:
            params = {k: v for k, v in ROUTE_QUERY.items() if k != missing}
            async with http.get(base, params=params) as bad:
                assert bad.status == 400
                assert missing in (await bad.json())["error"]
        # What an unescaped "&" in a dialled number would smuggle in.
        forged = [*ROUTE_QUERY.items(), ("caller_peer", "carrier"), ("caller_peer", "")]
        async with http.get(base, params=forged) as bad:
            assert bad.status == 400
            assert "caller_peer" in (await bad.json())["error"]
    # The halves the edge's route cache keeps join into the answer's fields.
    halves = "{" + body.pop("caller_half") + "," + body.pop("callee_half") + "}"
    assert {k: v for k, v in json.loads(halves).items() if not k.endswith("_version")} == {
        k: v for k, v in body.items() if k.startswith(("caller_", "callee_", "emergency_caller"))
    } | {
        k: body[k]
        for k in ("feature", "routes", "unavailable_uri", "unavailable_routes", "ring_seconds")
    }
    assert body == {
        "caller_kind": "CALLER_KIND_DEVICE_IDLE",
        "caller_tenant": "",
        "caller_extension": "",
        "caller_display_name": "",
        "caller_id": "",
        "emergency_caller_id": "+4930123450000",
        "callee_kind": "CALLEE_KIND_USER_BOUND",
        "callee_device": "hd3002",
        "callee_device_domain": "acme.example",
        "feature": "",
        "caller_domain": "",
        "callee_extension": "1002",
        "callee_domain": "acme.example",
        "routes": "",
        "unavailable_uri": "",
        "unavailable_routes": "",
        "ring_seconds": 30,
        "emergency_location": "",
        "emergency_where": "",
        "emergency_location_json": "",
        "caller_check": "hd:{acme}:routegen dev:hd3001",
        "caller_generation": "",
        "caller_until": "0",
        "callee_check": "hd:{acme}:routegen usr:acme:1002",
        "callee_generation": "1",
        "callee_until": "0",
        "directory_version": "1",  # the seeded directory's
    }


async def test_redis_unreachable_is_503_and_unavailable(redis: Redis, acme: TenantConfig) -> None:
    tenants = TenantCache(redis)
    await tenants.refresh()
    dead = Redis(port=free_port(), decode_responses=True, retry=Retry(NoBackoff(), 0))
    core = BindingCore(dead, tenants)
    lookups = LookupServer(core)
    await lookups.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{lookups.port}/v1/route"
            async with http.get(url, params=ROUTE_QUERY) as resp:
                assert resp.status == 503
                assert "redis" in (await resp.json())["error"]
    finally:
        await lookups.stop()
    server = await start_grpc_server(
        ("127.0.0.1", 0),
        TlsMaterial.of(binding_settings(""), "test"),
        lambda s: binding_pb2_grpc.add_BindingServiceServicer_to_server(BindingServicer(core), s),
        {SERVICE_NAME: POLICY},
    )
    try:
        async with pki.aio_channel(f"127.0.0.1:{server.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await binding_pb2_grpc.BindingServiceStub(channel).Login(
                    login_request("hd3001", "1001")
                )
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)
        await dead.aclose()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_and_readiness(service: BindingService, stub: Stub) -> None:
    logins = sample("hotdesk_binding_logins_total", result="logged_in")
    takeovers = sample("hotdesk_binding_sessions_ended_total", reason="takeover")
    lookups = sample(
        "hotdesk_binding_route_lookups_total",
        caller_kind="CALLER_KIND_DEVICE_BOUND",
        callee_kind="CALLEE_KIND_EMERGENCY",
    )
    await stub.Login(login_request("hd3001", "1001"))
    await stub.Login(
        pb.LoginRequest(
            device_id="hd3001",
            user=pb.UserRef(tenant="acme", extension="1002"),
            allow_takeover=True,
        )
    )
    await stub.Route(
        pb.RouteRequest(
            caller_user="hd3001",
            caller_domain="acme.example",
            callee_user="112",
            callee_domain="acme.example",
        )
    )
    ops = f"http://127.0.0.1:{service.ops_port}"

    async def gauge_is_one() -> bool:
        return sample("hotdesk_binding_active_sessions") == 1

    await eventually(gauge_is_one)  # refreshed by the sweeper
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{ops}/readyz") as ready:
            assert ready.status == 200
        async with http.get(f"{ops}/metrics") as resp:
            text = await resp.text()
    assert sample("hotdesk_binding_logins_total", result="logged_in") == logins + 2
    assert sample("hotdesk_binding_sessions_ended_total", reason="takeover") == takeovers + 1
    assert (
        sample(
            "hotdesk_binding_route_lookups_total",
            caller_kind="CALLER_KIND_DEVICE_BOUND",
            callee_kind="CALLEE_KIND_EMERGENCY",
        )
        == lookups + 1
    )
    for name in (
        'hotdesk_binding_logins_total{result="logged_in"}',
        'hotdesk_binding_sessions_ended_total{reason="takeover"}',
        'hotdesk_binding_route_lookups_total{callee_kind="CALLEE_KIND_EMERGENCY",caller_kind="CALLER_KIND_DEVICE_BOUND"}',
        "hotdesk_binding_route_lookup_seconds_bucket",
        'hotdesk_grpc_server_handling_seconds_count{grpc_method="Login",'
        'grpc_service="hotdesk.v1.BindingService"}',
        'hotdesk_grpc_server_handled_total{grpc_code="OK",grpc_method="Login",'
        'grpc_service="hotdesk.v1.BindingService"}',
        "hotdesk_binding_active_sessions 1.0",
    ):
        assert name in text


async def test_sessions_outlive_the_service_and_expire_after_restart(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig
) -> None:
    t = await seed.tenant(redis, TenantConfig(id="s", domain="s.example", max_login_seconds=10))
    await seed.user(redis, t, "1001")
    await seed.device(redis, t, "x1")
    clock = FakeClock()
    first = await start_binding_service(binding_settings(redis_server.url), clock=clock)
    async with pki.aio_channel(f"127.0.0.1:{first.grpc_port}") as channel:
        stub = binding_pb2_grpc.BindingServiceStub(channel)
        await stub.Login(login_request("hd3001", "1001"))
        await stub.Login(
            pb.LoginRequest(device_id="x1", user=pb.UserRef(tenant="s", extension="1001"))
        )
    await first.stop()

    clock.advance(11)  # x1's session came due while no service ran
    second = await start_binding_service(binding_settings(redis_server.url), clock=clock)
    try:

        async def expired() -> bool:
            return [e["reason"] for e in await events(redis, "s")] == ["login", "expired"]

        await eventually(expired)  # by the new service's sweeper
        hd3001 = await second.core.get_by_device("hd3001")
        assert hd3001 is not None and hd3001.binding.extension == "1001"
        x1 = await second.core.get_by_device("x1")
        assert x1 is not None and not x1.HasField("binding") and x1.generation == 2
    finally:
        await second.stop()


async def test_python_m_runs_until_sigterm(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig
) -> None:
    env = os.environ | {
        "HOTDESK_BINDING_REDIS_URL": redis_server.url,
        "HOTDESK_BINDING_GRPC_PORT": "0",
        "HOTDESK_BINDING_HTTP_PORT": "0",
        "HOTDESK_BINDING_OPS_PORT": "0",
        "HOTDESK_BINDING_LOG_FORMAT": "json",
        **pki.tls_env("HOTDESK_BINDING_", "service:binding"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.binding",
        cwd=REPO,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), 20)
            assert line, "exited before listening"
            entry = json.loads(line)
            if entry["event"] == "listening":
                break
        http_port = entry["http"].rsplit(":", 1)[1]
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{http_port}/v1/route"
            async with http.get(url, params=ROUTE_QUERY) as resp:
                assert (await resp.json())["caller_kind"] == "CALLER_KIND_DEVICE_IDLE"
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), 20)
        assert await proc.wait() == 0
        assert [json.loads(x)["event"] for x in rest.splitlines()][-1] == "stopped"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize(
    "answer",
    [
        pb.RouteResponse(),
        pb.RouteResponse(
            caller_kind=pb.CALLER_KIND_DEVICE_BOUND,
            caller_tenant="acme",
            caller_extension="1001",
            caller_display_name='Ann "A" Ö',
            caller_id="+49301",
            emergency_caller_id="+49300",
            callee_kind=pb.CALLEE_KIND_FEATURE_CODE,
            feature="login_ext",
        ),
        pb.RouteResponse(
            caller_kind=pb.CALLER_KIND_PEER,
            callee_kind=pb.CALLEE_KIND_USER_LOGGED_OUT,
            unavailable_uri="sip:+4917612345003@hotdesk.local",
            unavailable_routes="sip:127.0.0.1:5092 aor:sip:pbx@hotdesk.local",
            ring_seconds=20,
        ),
    ],
)
def test_route_json_is_protobufs_json_mapping(answer: pb.RouteResponse) -> None:
    mapped = json_format.MessageToDict(
        answer, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )
    body = json.loads(route_json(answer))
    assert body.pop("caller_half") == body.pop("callee_half") == ""  # nothing to check
    assert body == mapped


def test_route_json_halves_join_into_the_answer() -> None:
    """The edge's cache joins a caller's and a callee's half into what
    the lookup answered (the fields Kamailio reads), with their checks."""
    answer = pb.RouteResponse(
        caller_kind=pb.CALLER_KIND_DEVICE_BOUND,
        caller_extension="1001",
        caller_display_name='Ann "A" Ö',
        caller_check="hd:{acme}:routegen dev:hd3001",
        caller_generation="7",
        caller_until="0",
        callee_kind=pb.CALLEE_KIND_USER_BOUND,
        callee_device="hd3002",
        ring_seconds=20,
        callee_check="hd:{acme}:routegen usr:acme:3002",
        callee_generation="",
        callee_until="1800000000",
        directory_version="12",
    )
    body = json.loads(route_json(answer))
    joined = json.loads("{" + body["caller_half"] + "," + body["callee_half"] + "}")
    assert joined["caller_version"] == joined["callee_version"] == "12"
    assert joined["callee_kind"] == "CALLEE_KIND_USER_BOUND"
    assert joined["ring_seconds"] == 20
    for name in set(joined) - {"caller_version", "callee_version"}:
        assert joined[name] == body[name], name
    assert set(body) - set(joined) == {
        "caller_half",
        "callee_half",
        "directory_version",
        "emergency_location",
        "emergency_where",
        "emergency_location_json",
    }
