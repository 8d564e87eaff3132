"""The running binding service: gRPC, the Kamailio HTTP endpoint, health,
metrics and graceful stop, all on real ports against a real redis-server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc
from redis.asyncio import Redis

from services.binding.http_api import route_json
from services.binding.service import BindingService, start_binding_service
from services.kernel.tenants import TenantConfig
from tests.support.redis_server import RedisServer
from tests.support.services import binding_settings


@pytest.fixture
async def service(
    redis_server: RedisServer, redis: Redis, acme: TenantConfig
) -> AsyncIterator[BindingService]:
    running = await start_binding_service(binding_settings(redis_server.url))
    yield running
    await running.stop()


@pytest.fixture
async def stub(
    service: BindingService,
) -> AsyncIterator[binding_pb2_grpc.BindingServiceAsyncStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        yield binding_pb2_grpc.BindingServiceStub(channel)


async def test_grpc_login_list_logout(stub: binding_pb2_grpc.BindingServiceAsyncStub) -> None:
    r = await stub.Login(
        pb.LoginRequest(
            device_id="hd3001",
            user=pb.UserRef(tenant="acme", extension="1001"),
            actor="operator:test",
        )
    )
    assert r.result == pb.LOGIN_RESULT_LOGGED_IN
    listed = await stub.List(pb.ListRequest(tenant="acme", include_idle=True))
    assert [(d.device_id, d.binding.extension) for d in listed.devices] == [
        ("hd3001", "1001"),
        ("hd3002", ""),
        ("hd3003", ""),
        ("ph2001", ""),
    ]
    only_bound = await stub.List(pb.ListRequest())
    assert [d.device_id for d in only_bound.devices] == ["hd3001"]
    out = await stub.Logout(pb.LogoutRequest(device_id="hd3001", reason=pb.CHANGE_REASON_OPERATOR))
    assert out.result == pb.LOGOUT_RESULT_LOGGED_OUT
    state = await stub.GetByDevice(pb.GetByDeviceRequest(device_id="hd3001"))
    assert not state.HasField("binding") and state.generation == 2


async def test_grpc_rejects_malformed_requests(
    stub: binding_pb2_grpc.BindingServiceAsyncStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as no_device:
        await stub.Login(pb.LoginRequest(user=pb.UserRef(tenant="acme", extension="1001")))
    assert no_device.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as both:
        await stub.Logout(
            pb.LogoutRequest(device_id="hd3001", user=pb.UserRef(tenant="acme", extension="1001"))
        )
    assert both.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as no_user:
        await stub.Login(pb.LoginRequest(device_id="hd3001", user=pb.UserRef(tenant="acme")))
    assert no_user.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.GetByDevice(pb.GetByDeviceRequest(device_id="nope"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_reflection_and_graceful_stop(service: BindingService) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        check = await health.Check(
            health_pb2.HealthCheckRequest(service="hotdesk.v1.BindingService")
        )
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = [
            r
            async for r in refl.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
        ]
        names = {s.name for s in replies[0].list_services_response.service}
        assert "hotdesk.v1.BindingService" in names
        watch = health.Watch(health_pb2.HealthCheckRequest(service="hotdesk.v1.BindingService"))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        await service.grpc.set_serving(False)  # what stop() does first
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()


async def test_http_route_is_flat_json_with_every_field(
    service: BindingService, stub: binding_pb2_grpc.BindingServiceAsyncStub
) -> None:
    await stub.Login(
        pb.LoginRequest(device_id="hd3002", user=pb.UserRef(tenant="acme", extension="1002"))
    )
    base = f"http://127.0.0.1:{service.http_port}/v1/route"
    query = {
        "caller_user": "hd3001",
        "caller_domain": "acme.example",
        "callee_user": "1002",
        "callee_domain": "acme.example",
    }
    async with aiohttp.ClientSession() as http:
        async with http.get(base, params=query) as resp:
            assert resp.status == 200
            body = await resp.json()
        async with http.get(base, params={"caller_user": "hd3001"}) as bad:
            assert bad.status == 400
            assert "callee_user" in (await bad.json())["error"]
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
    }


async def test_metrics_and_readiness(
    service: BindingService, stub: binding_pb2_grpc.BindingServiceAsyncStub
) -> None:
    await stub.Login(
        pb.LoginRequest(device_id="hd3001", user=pb.UserRef(tenant="acme", extension="1001"))
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
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{ops}/readyz") as ready:
            assert ready.status == 200
        async with http.get(f"{ops}/metrics") as resp:
            text = await resp.text()
        service.readiness.ready = False
        async with http.get(f"{ops}/readyz") as not_ready:
            assert not_ready.status == 503
        service.readiness.ready = True
    assert 'hotdesk_binding_logins_total{result="logged_in"}' in text
    assert (
        'hotdesk_binding_route_lookups_total{callee_kind="CALLEE_KIND_EMERGENCY",'
        'caller_kind="CALLER_KIND_DEVICE_BOUND"}'
    ) in text
    assert "hotdesk_binding_route_lookup_seconds_bucket" in text
    assert 'hotdesk_binding_rpc_seconds_count{method="Login"}' in text


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
    ],
)
def test_route_json_is_protobufs_json_mapping(answer: pb.RouteResponse) -> None:
    mapped = json_format.MessageToDict(
        answer, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )
    assert json.loads(route_json(answer)) == mapped
