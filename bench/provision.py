"""Provisioning benchmark: phone files served per second (and per CPU-second
of the service) against the common file as the baseline of the same run;
login -> check-sync NOTIFY at the phone; pushes per second during a mass
logout with pacing on.

One fleet of registered phones behind the real Kamailio; the provision and
binding services as processes; this process plays the phones' HTTP side.
"""

import asyncio
import hashlib
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.measure import cpu_seconds
from tests.support.fleet import Fleet, fleet_ids, fleet_secret, fleet_stack

PUSH_RATE = 200
PUSH_BURST = 50


@dataclass(frozen=True)
class FileRun:
    label: str
    files: int
    seconds: float
    cpu_seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.files / self.seconds

    @property
    def per_cpu(self) -> float:
        return self.files / self.cpu_seconds if self.cpu_seconds else 0.0


@dataclass(frozen=True)
class ProvisionResult:
    files: list[FileRun]
    login_to_notify_ms: list[float]
    wave_devices: int
    wave_pushes: int
    wave_seconds: float
    wave_max_per_second: int


def _mac(i: int) -> str:
    raw = f"0015650{i:05x}"
    return ":".join(raw[k : k + 2] for k in range(0, 12, 2))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class _Phone:
    """One fleet phone's HTTP side: its User-Agent and digest answers
    computed from the server's (stateless, reusable) nonce."""

    def __init__(self, i: int, nonce: str, realm: str) -> None:
        self.device, _ = fleet_ids(i + 1)[i]
        self.path = f"/0015650{i:05x}.cfg"
        self.user_agent = f"Yealink SIP-T54W 96.86.0.100 {_mac(i)}"
        self._ha1 = _md5(f"{self.device}:{realm}:{fleet_secret(self.device)}")
        self._nonce = nonce
        self._realm = realm
        self._nc = 0

    def authorization(self) -> str:
        self._nc += 1
        nc, cnonce = f"{self._nc:08x}", secrets.token_hex(8)
        ha2 = _md5(f"GET:{self.path}")
        response = _md5(f"{self._ha1}:{self._nonce}:{nc}:{cnonce}:auth:{ha2}")
        return (
            f'Digest username="{self.device}", realm="{self._realm}", nonce="{self._nonce}", '
            f'uri="{self.path}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", '
            "algorithm=MD5"
        )


async def _challenge(base: str) -> tuple[str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{base}/001565000000.cfg", headers={"User-Agent": _Phone(0, "", "").user_agent}
        ) as r,
    ):
        header = r.headers["WWW-Authenticate"]
    params = dict(p.split("=", 1) for p in header.removeprefix("Digest ").split(", "))
    return params["nonce"].strip('"'), params["realm"].strip('"')


async def _serve_files(
    fleet: Fleet, label: str, seconds: float, workers: int, device_file: bool
) -> FileRun:
    base = f"http://127.0.0.1:{fleet.provision.ports['http']}"
    nonce, realm = await _challenge(base)
    phones = [_Phone(i, nonce, realm) for i in range(fleet.size)]
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    cpu_before = cpu_seconds(fleet.provision.pid)
    started = time.monotonic()

    async def worker(k: int, session: aiohttp.ClientSession) -> None:
        n = k
        while time.monotonic() < deadline:
            phone = phones[n % len(phones)]
            n += workers
            headers = {"User-Agent": phone.user_agent}
            path = phone.path if device_file else "/y000000000123.cfg"
            if device_file:
                headers["Authorization"] = phone.authorization()
            t0 = time.perf_counter()
            async with session.get(base + path, headers=headers) as r:
                await r.read()
                assert r.status == 200, (r.status, path)
            latencies.append((time.perf_counter() - t0) * 1000)

    connector = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(k, session) for k in range(workers)))
    elapsed = time.monotonic() - started
    return FileRun(
        label, len(latencies), elapsed, cpu_seconds(fleet.provision.pid) - cpu_before, latencies
    )


def _wait_notifies(fleet: Fleet, total: int, within: float) -> None:
    deadline = time.monotonic() + within
    while len(fleet.phones.received) < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(fleet.phones.received)} of {total} NOTIFYs arrived")
        time.sleep(0.01)


def _login_to_notify(fleet: Fleet, iterations: int) -> list[float]:
    out = []
    for device, ext in fleet_ids(iterations):
        before = len(fleet.phones.received)
        t0 = time.monotonic()
        fleet.login(device, ext)
        _wait_notifies(fleet, before + 1, 10)
        got, at = fleet.phones.received[before]
        assert got == device, (got, device)
        out.append((at - t0) * 1000)
    return out


def _mass_logout(fleet: Fleet, logged_in: int) -> tuple[int, float, int]:
    """Log everyone in (the first ``logged_in`` are), wait for those pushes,
    then log everyone out at once as a tenant's daily logout does:
    (pushes, seconds from first to last, most in any one second)."""
    ids = fleet_ids(fleet.size)
    pushed = len(fleet.phones.received)
    for device, ext in ids[logged_in:]:
        fleet.login(device, ext)
    _wait_notifies(fleet, pushed + fleet.size - logged_in, 120)
    before = len(fleet.phones.received)
    for device, _ in ids:
        fleet.logout(device)
    _wait_notifies(fleet, before + fleet.size, 120)
    times = sorted(at for _, at in fleet.phones.received[before:])
    most = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    return len(times), times[-1] - times[0], most


def measure(size: int, seconds: float, iterations: int) -> ProvisionResult:
    settings = {
        "HOTDESK_PROVISION_PUSH_RATE_PER_SECOND": str(PUSH_RATE),
        "HOTDESK_PROVISION_PUSH_BURST": str(PUSH_BURST),
        "HOTDESK_PROVISION_LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryDirectory() as tmp, fleet_stack(Path(tmp), size, settings) as fleet:
        files = [
            asyncio.run(_serve_files(fleet, "common file (baseline)", seconds, 8, False)),
            asyncio.run(_serve_files(fleet, "device file, idle", seconds, 8, True)),
        ]
        login = _login_to_notify(fleet, iterations)
        pushes, wave_seconds, most = _mass_logout(fleet, iterations)
        # Everyone is logged out now; half log in for the logged-in files.
        before = len(fleet.phones.received)
        for device, ext in fleet_ids(size)[: size // 2]:
            fleet.login(device, ext)
        _wait_notifies(fleet, before + size // 2, 120)
        files.append(
            asyncio.run(_serve_files(fleet, "device file, half logged in", seconds, 8, True))
        )
    return ProvisionResult(files, login, size, pushes, wave_seconds, most)
