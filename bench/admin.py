"""Admin API benchmark: the board (``GET /api/v1/devices``, first page of
50) under concurrent viewers, each an aiohttp client with an API token,
each asking again as soon as it has its answer. The admin service runs as
its own process over a real Redis holding a fleet of devices, half of
them with a user logged in; this process plays the viewers."""

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from hotdesk.v1 import binding_pb2 as bpb

from bench.measure import cpu_seconds
from services.admin.credentials import ApiTokens
from services.admin.operators import Operator, OperatorStore, Role
from services.binding.service import start_binding_service
from services.kernel.redis_conn import connect
from tests.support.fleet import fleet_ids, import_fleet
from tests.support.redis_server import RedisServer
from tests.support.service_process import ServiceProcess
from tests.support.services import binding_settings

PAGE = 50


@dataclass(frozen=True)
class BoardRun:
    devices: int
    viewers: int
    seconds: float
    latencies_ms: list[float]
    error_statuses: list[int]  # of answers other than 200
    cpu_seconds: float  # the admin service's

    @property
    def errors(self) -> int:
        return len(self.error_statuses)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds


async def _log_in_half(redis_url: str, n: int) -> None:
    binding = await start_binding_service(binding_settings(redis_url))
    try:
        for device, extension in fleet_ids(n)[::2]:
            await binding.core.login(
                device,
                bpb.UserRef(tenant="acme", extension=extension),
                allow_takeover=False,
                actor="bench",
            )
    finally:
        await binding.stop()


async def _token(redis_url: str) -> str:
    redis = connect(redis_url)
    try:
        store = OperatorStore(redis, OperatorStore.hasher(1, 8, 1))
        await store.put(Operator("bench", Role.PLATFORM_ADMIN, ()), "bench password, local")
        token, _ = await ApiTokens(redis).create("bench", "make bench")
        return token
    finally:
        await redis.aclose()


async def _viewer(
    url: str, token: str, until: float, latencies: list[float], errors: list[int]
) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            async with http.get(f"{url}/api/v1/devices?limit={PAGE}") as r:
                await r.read()
                if r.status != 200:
                    errors.append(r.status)
                    continue
            latencies.append((time.perf_counter() - started) * 1000)


async def measure(devices: int, viewers: int, seconds: float) -> BoardRun:
    with tempfile.TemporaryDirectory(prefix="hotdesk-bench-admin-") as work:
        server = RedisServer(Path(work) / "redis", fsync="everysec")
        server.start()
        try:
            await asyncio.to_thread(import_fleet, server.url, devices)
            await _log_in_half(server.url, devices)
            token = await _token(server.url)
            admin = ServiceProcess("admin", server.url, Path(work) / "admin.log", ("grpc", "http"))
            admin.start()
            try:
                url = f"http://127.0.0.1:{admin.ports['http']}"
                # A warm-up second, then the measured run.
                await _viewers(url, token, viewers, 1.0)
                cpu_before = cpu_seconds(admin.pid)
                latencies, errors = await _viewers(url, token, viewers, seconds)
                cpu = cpu_seconds(admin.pid) - cpu_before
            finally:
                admin.stop()
        finally:
            server.stop()
    return BoardRun(devices, viewers, seconds, latencies, errors, cpu)


async def _viewers(
    url: str, token: str, viewers: int, seconds: float
) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    errors: list[int] = []
    until = time.monotonic() + seconds
    await asyncio.gather(*(_viewer(url, token, until, latencies, errors) for _ in range(viewers)))
    return latencies, errors
