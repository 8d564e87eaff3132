"""What service identity costs on gRPC: the binding service's servicer on
two servers in one process, one plaintext without interceptors (what every
service was before mutual TLS), one as the services run now (mutual TLS,
the interceptor chain: identity, authorization, error mapping, metrics).

Measured one call at a time, the two alternating: GetByDevice (one Redis
read) and Login+Logout (two scripts) on a kept-open channel, and a new
channel's first call (the TLS handshake). The client shares the process,
so each figure is the whole round trip's CPU on one core; the ratios are
what to read.
"""

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc

from services.binding.core import BindingCore
from services.binding.grpc_api import POLICY, BindingServicer
from services.devstack.pki import LOCAL_HOSTS, LocalCa
from services.kernel.grpc_server import start_grpc_server
from services.kernel.identity import TlsMaterial
from services.kernel.redis_conn import connect
from services.kernel.tenants import TenantCache
from tests.support.demo import Gateways, import_demo_directory
from tests.support.redis_server import RedisServer


@dataclass(frozen=True)
class GrpcRun:
    label: str
    mode: str  # "plaintext" or "mutual TLS"
    latencies_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[98]


async def _timed(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def _calls(channel: grpc.aio.Channel, n: int) -> tuple[list[float], list[float]]:
    stub = binding_pb2_grpc.BindingServiceStub(channel)
    alice = pb.UserRef(tenant="acme", extension="1001")

    async def get() -> None:
        await stub.GetByDevice(pb.GetByDeviceRequest(device_id="hd3001"))

    async def login_logout() -> None:
        await stub.Login(pb.LoginRequest(device_id="hd3002", user=alice, actor="bench"))
        await stub.Logout(pb.LogoutRequest(device_id="hd3002", actor="bench"))

    await get()  # warm the channel
    return await _timed(get, n), await _timed(login_logout, n // 4)


async def _first_calls(open_channel: Callable[[], grpc.aio.Channel], n: int) -> list[float]:
    async def first() -> None:
        async with open_channel() as channel:
            stub = binding_pb2_grpc.BindingServiceStub(channel)
            await stub.GetByDevice(pb.GetByDeviceRequest(device_id="hd3001"))

    return await _timed(first, n)


async def measure_grpc_tls(calls: int = 2_000, rounds: int = 2) -> list[GrpcRun]:
    folder = Path(tempfile.mkdtemp(prefix="hotdesk-bench-grpc-"))
    redis_server = RedisServer(folder / "redis")
    redis_server.start()
    redis = connect(redis_server.url)
    try:
        await asyncio.to_thread(import_demo_directory, redis_server.url, Gateways(9, 9, 9))
        tenants = TenantCache(redis)
        await tenants.refresh()
        core = BindingCore(redis, tenants)
        ca = LocalCa(folder / "pki")
        service = ca.issue("binding", "service:binding", LOCAL_HOSTS)
        operator = ca.issue("operator", "operator:bench", LOCAL_HOSTS)

        def register(server: grpc.aio.Server) -> None:
            binding_pb2_grpc.add_BindingServiceServicer_to_server(BindingServicer(core), server)

        plain = grpc.aio.server()
        register(plain)
        plain_port = plain.add_insecure_port("127.0.0.1:0")
        await plain.start()
        secure = await start_grpc_server(
            ("127.0.0.1", 0),
            TlsMaterial(service.cert, service.key, service.ca),
            register,
            {"hotdesk.v1.BindingService": POLICY},
        )
        credentials = grpc.ssl_channel_credentials(
            root_certificates=operator.ca.read_bytes(),
            private_key=operator.key.read_bytes(),
            certificate_chain=operator.cert.read_bytes(),
        )

        def plain_channel() -> grpc.aio.Channel:
            return grpc.aio.insecure_channel(f"127.0.0.1:{plain_port}")

        def secure_channel() -> grpc.aio.Channel:
            return grpc.aio.secure_channel(f"127.0.0.1:{secure.port}", credentials)

        runs: list[GrpcRun] = []
        for _ in range(rounds):
            for mode, opener in (("plaintext", plain_channel), ("mutual TLS", secure_channel)):
                async with opener() as channel:
                    get, login = await _calls(channel, calls)
                runs.append(GrpcRun("GetByDevice", mode, get))
                runs.append(GrpcRun("Login + Logout", mode, login))
                runs.append(
                    GrpcRun("new channel + first call", mode, await _first_calls(opener, 200))
                )
        await plain.stop(0)
        await secure.stop(0)
        return runs
    finally:
        await redis.aclose()
        redis_server.kill()


def grpc_table(runs: list[GrpcRun]) -> str:
    lines = ["| call | transport | calls | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    for r in runs:
        lines.append(
            f"| {r.label} | {r.mode} | {len(r.latencies_ms):,} | {r.p50:.2f} | {r.p99:.2f} |"
        )
    lines.append("")
    lines.append("| call | mutual TLS / plaintext p50 | p99 |")
    lines.append("|---|---|---|")
    for label in dict.fromkeys(r.label for r in runs):
        plain = [r for r in runs if r.label == label and r.mode == "plaintext"]
        tls = [r for r in runs if r.label == label and r.mode == "mutual TLS"]
        p50 = statistics.mean(r.p50 for r in tls) / statistics.mean(r.p50 for r in plain)
        p99 = statistics.mean(r.p99 for r in tls) / statistics.mean(r.p99 for r in plain)
        lines.append(f"| {label} | {p50:.2f} | {p99:.2f} |")
    return "\n".join(lines)
