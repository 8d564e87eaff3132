"""A Redis restart loses no session and the running service reconnects."""

import asyncio
from pathlib import Path

import aiohttp
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc

from services.binding.service import start_binding_service
from services.kernel.redis_conn import connect
from services.kernel.tenants import TenantConfig
from tests.support import pki, seed
from tests.support.redis_server import RedisServer
from tests.support.services import binding_settings


async def _route(
    http: aiohttp.ClientSession, port: int, device: str, callee: str, callee_domain: str
) -> dict[str, str]:
    params = {
        "caller_user": device,
        "caller_domain": "acme.example",
        "callee_user": callee,
        "callee_domain": callee_domain,
    }
    async with http.get(f"http://127.0.0.1:{port}/v1/route", params=params) as resp:
        assert resp.status == 200
        body: dict[str, str] = await resp.json()
        return body


async def test_sessions_survive_graceful_and_hard_restarts(own_redis_server: RedisServer) -> None:
    admin = connect(own_redis_server.url)
    acme = await seed.tenant(admin, TenantConfig(id="acme", domain="acme.example"))
    beta = await seed.tenant(admin, TenantConfig(id="beta", domain="beta.example"))
    for t in (acme, beta):
        for i in range(1, 4):
            await seed.user(admin, t, f"100{i}")
            await seed.device(admin, t, f"{t.id}300{i}")
    await admin.aclose()

    service = await start_binding_service(binding_settings(own_redis_server.url))
    try:
        async with (
            pki.aio_channel(f"127.0.0.1:{service.grpc_port}") as channel,
            aiohttp.ClientSession() as http,
        ):
            stub = binding_pb2_grpc.BindingServiceStub(channel)
            for tid in ("acme", "beta"):
                for i in range(1, 4):
                    r = await stub.Login(
                        pb.LoginRequest(
                            device_id=f"{tid}300{i}",
                            user=pb.UserRef(tenant=tid, extension=f"100{i}"),
                        )
                    )
                    assert r.result == pb.LOGIN_RESULT_LOGGED_IN

            for hard in (False, True):
                await asyncio.to_thread(own_redis_server.restart, hard)
                # Same service objects, no restart of ours: it reconnects. The
                # first lookup spans two groups: the pipelined EVALSHA meets
                # NOSCRIPT (a restarted Redis has no scripts) and recovers.
                for i in range(1, 4):
                    body = await _route(
                        http, service.http_port, f"acme300{i}", f"100{i}", "beta.example"
                    )
                    assert body["caller_kind"] == "CALLER_KIND_DEVICE_BOUND"
                    assert body["caller_extension"] == f"100{i}"
                    assert body["callee_device"] == f"beta300{i}"
                    body = await _route(
                        http, service.http_port, f"acme300{i}", f"100{i}", "acme.example"
                    )
                    assert body["callee_device"] == f"acme300{i}"

            # Changes work again too (the Lua scripts are reloaded on NOSCRIPT).
            moved = await stub.Login(
                pb.LoginRequest(
                    device_id="acme3001",
                    user=pb.UserRef(tenant="acme", extension="1002"),
                    allow_takeover=True,
                )
            )
            assert moved.result == pb.LOGIN_RESULT_LOGGED_IN
            assert {b.device_id for b in moved.ended} == {"acme3001", "acme3002"}
            listed = await stub.List(pb.ListRequest())
            assert len(listed.devices) == 5
    finally:
        await service.stop()


async def test_service_started_before_redis_becomes_ready_by_itself(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "late-redis")  # not started yet
    service = await start_binding_service(binding_settings(server.url))
    readyz = f"http://127.0.0.1:{service.ops_port}/readyz"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(readyz) as resp:
                assert resp.status == 503
            await asyncio.to_thread(server.start)
            deadline = asyncio.get_running_loop().time() + 15
            status = 503
            while status != 200 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.2)
                async with http.get(readyz) as resp:
                    status = resp.status
            assert status == 200
    finally:
        await service.stop()
        server.kill()
