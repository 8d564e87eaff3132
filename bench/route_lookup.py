"""Kamailio-facing lookups with 1,000 and with 1,000,000 bindings in Redis.

For each size: a fresh redis-server (AOF on, as shipped), N devices and N
hot-desk users written through the key schema, N logins through the real
login script, then the binding service as its own process (one event loop,
so at most one core) under wrk. Lookups pick a random device and a random
callee each time. Reported: requests/s, p50/p99, and lookups per CPU-second
of the service process (its /proc CPU time), which is what "per core" means
on a shared, noisy machine.
"""

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from bench.measure import WrkResult, cpu_seconds, run_wrk
from services.binding.scripts import BindingScripts, login_args
from services.kernel import keys
from services.kernel.redis_conn import connect
from services.kernel.tenants import TenantConfig
from tests.support import seed
from tests.support.binding_process import BindingProcess
from tests.support.redis_server import RedisServer

DOMAIN = "bench.example"
FIRST_EXT = 100_000
BATCH = 5_000
WRK_SCRIPT = Path(__file__).with_name("wrk_route.lua")
TENANT = TenantConfig(id="bench", domain=DOMAIN)


@dataclass(frozen=True)
class LookupRun:
    bindings: int
    connections: int
    wrk: WrkResult
    server_cpu_seconds: float

    @property
    def per_core(self) -> float:
        return self.wrk.requests / self.server_cpu_seconds


@dataclass(frozen=True)
class SizeResult:
    bindings: int
    saturated: LookupRun
    light: LookupRun
    session_bytes_per_binding: float
    directory_bytes_per_pair: float
    stream_bytes_per_event: float


async def _used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def _populate(redis: Redis, n: int) -> tuple[float, float, float]:
    """Directory, then logins; returns bytes per binding (session state),
    per user+device directory pair, and per stream event."""
    await seed.tenant(redis, TENANT)
    base = await _used_memory(redis)
    for start in range(0, n, BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(n, start + BATCH)):
                await seed.device(pipe, TENANT, f"bd{i}")
                await seed.user(pipe, TENANT, str(FIRST_EXT + i), f"Bench User {i}")
            await pipe.execute()
    directory = await _used_memory(redis)
    scripts = BindingScripts.register(redis)
    group, now = TENANT.group, int(time.time() * 1000)
    prefix = keys.prefix(group)
    for start in range(0, n, BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(n, start + BATCH)):
                await scripts.login(
                    keys=[
                        keys.device(group, f"bd{i}"),
                        keys.user(group, TENANT.id, str(FIRST_EXT + i)),
                    ],
                    args=login_args(
                        prefix,
                        f"bd{i}",
                        TENANT.id,
                        str(FIRST_EXT + i),
                        allow_takeover=False,
                        deny_second=False,
                        now_ms=now,
                        expires_ms=0,
                        actor="bench",
                        maxlen=max(n, 1_000_000),
                    ),
                    client=pipe,
                )
            await pipe.execute()
    sessions = await _used_memory(redis)
    stream_bytes = int(await redis.memory_usage(keys.events(group), samples=0) or 0)
    events = int(await redis.xlen(keys.events(group)))
    return (
        (sessions - directory - stream_bytes) / n,
        (directory - base) / n,
        stream_bytes / max(events, 1),
    )


def _lookup_run(n: int, http_port: int, pid: int, seconds: int, connections: int) -> LookupRun:
    before = cpu_seconds(pid)
    result = run_wrk(
        f"http://127.0.0.1:{http_port}",
        WRK_SCRIPT,
        seconds,
        connections,
        {
            "HOTDESK_BENCH_N": str(n),
            "HOTDESK_BENCH_DOMAIN": DOMAIN,
            "HOTDESK_BENCH_FIRST_EXT": str(FIRST_EXT),
        },
    )
    if result.errors:
        raise RuntimeError(f"{result.errors} failed lookups at {n} bindings")
    return LookupRun(n, connections, result, cpu_seconds(pid) - before)


async def measure(n: int, seconds: int) -> SizeResult:
    with tempfile.TemporaryDirectory(prefix="hotdesk-bench-") as tmp:
        server = RedisServer(Path(tmp), fsync="everysec")
        server.start()
        binding = BindingProcess(server.url, Path(tmp) / "binding.log")
        try:
            redis = connect(server.url, socket_timeout=60)
            session_bytes, directory_bytes, stream_bytes = await _populate(redis, n)
            await redis.aclose()
            await asyncio.to_thread(binding.start)
            port, pid = binding.ports["http"], binding.pid
            # Warm-up at the measured load: after 2 s at 8 connections the
            # first size measured read a p99 of 7.4-7.7 ms, 1.7-2.4 ms after.
            await asyncio.to_thread(_lookup_run, n, port, pid, 5, 16)
            saturated = await asyncio.to_thread(_lookup_run, n, port, pid, seconds, 16)
            light = await asyncio.to_thread(_lookup_run, n, port, pid, seconds, 1)
            return SizeResult(n, saturated, light, session_bytes, directory_bytes, stream_bytes)
        finally:
            await asyncio.to_thread(binding.stop)
            server.kill()
