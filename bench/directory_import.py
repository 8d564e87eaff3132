"""Directory import benchmark: the example file's tenants, devices and
peers with 100, 1,000 and 10,000 users who all have a PIN, imported into a
fresh redis-server (AOF, fsync every second) the way ``hotdesk directory
import`` does (read and validate the file, plan, write).

For each size: the first import (every PIN hashed), then the file again,
unchanged: once without a PIN digest key (every PIN verified with argon2,
as before digests) and once with it (digests compared, no argon2). argon2
runs at the tests' cheapest cost (t=1, 8 KiB, p=1) unless ``real`` names
the size (then at the production default, t=3, 64 MiB, p=4): only the runs
that hash or verify depend on it, the digest re-import does neither.
"""

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.measure import table
from services.auth.pins import PinHasher, pin_policy_violation
from services.directory.digest import PinDigester
from services.directory.importer import DirectoryImporter, ImportReport
from services.directory.load import load_directory
from services.kernel.redis_conn import connect
from services.kernel.secretbox import SecretBox
from tests.support.demo import DIRECTORY
from tests.support.redis_server import RedisServer

CHEAP = (1, 8, 1)
PRODUCTION = (3, 65_536, 4)


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float  # reading the file and importing it
    read_seconds: float  # of which reading and validating the file
    verifies: int  # argon2 verifications
    report: ImportReport


@dataclass(frozen=True)
class SizeRun:
    users: int
    cost: tuple[int, int, int]  # argon2 time cost, memory KiB, parallelism
    runs: list[Run]


def _pin(i: int, extension: str) -> str:
    """A PIN the policy accepts, different for neighbours."""
    for step in range(100):
        pin = f"{(i * 7919 + 1357 + step) % 1_000_000:06d}"
        if pin_policy_violation(pin, extension) is None:
            return pin
    raise AssertionError("no PIN found")


def directory_text(users: int) -> str:
    """The example directory with ``users`` users of tenant acme instead of
    its own, each with a PIN, a caller ID and a DID."""
    doc: dict[str, Any] = yaml.safe_load(DIRECTORY.read_text())
    entries = []
    for i in range(users):
        extension = f"{50_000 + i}"
        entries.append(
            {
                "tenant": "acme",
                "extension": extension,
                "name": f"User {i}",
                "caller_id": f"+493012{50_000 + i:06d}",
                "pin": _pin(i, extension),
                "hotdesk": True,
                "dids": [f"+493013{50_000 + i:06d}"],
            }
        )
    doc["users"] = entries
    return yaml.safe_dump(doc, sort_keys=False)


async def _timed(
    label: str,
    url: str,
    file: Path,
    hasher: PinHasher,
    box: SecretBox,
    digester: PinDigester | None,
) -> Run:
    redis = connect(url)
    try:
        started = time.perf_counter()
        directory = load_directory(file)
        read = time.perf_counter() - started
        importer = DirectoryImporter(redis, hasher, box=box, digester=digester)
        report = await importer.apply(directory)
        seconds = time.perf_counter() - started
    finally:
        await redis.aclose()
    return Run(label, seconds, read, report.pin_verifies, report)


async def measure_size(users: int, cost: tuple[int, int, int], work: Path) -> SizeRun:
    file = work / f"directory-{users}.yaml"
    file.write_text(directory_text(users))
    box = SecretBox(os.urandom(32))
    digester = PinDigester(os.urandom(32))
    hasher = PinHasher(*cost)
    server = RedisServer(work / f"redis-{users}-{cost[0]}", fsync="everysec")
    server.start()
    try:
        runs = [
            await _timed("first import", server.url, file, hasher, box, digester),
            await _timed("unchanged, no digest key", server.url, file, hasher, box, None),
            await _timed("unchanged, digests", server.url, file, hasher, box, digester),
        ]
    finally:
        server.stop()
    return SizeRun(users, cost, runs)


async def measure(sizes: list[int], real: list[int]) -> list[SizeRun]:
    results = []
    with tempfile.TemporaryDirectory(prefix="hotdesk-bench-import-") as tmp:
        for users in sizes:
            for cost in (PRODUCTION,) * (users in real) + (CHEAP,):
                name = "production" if cost == PRODUCTION else "cheapest (tests')"
                print(f"directory import: {users:,} users, {name} argon2 ...", flush=True)
                results.append(await measure_size(users, cost, Path(tmp)))
    return results


def _cost(cost: tuple[int, int, int]) -> str:
    t, m, p = cost
    return f"{'production' if cost == PRODUCTION else 'tests'} t={t} m={m:,}KiB p={p}"


def import_table(results: list[SizeRun]) -> str:
    rows = [
        [
            f"{r.users:,}",
            _cost(r.cost),
            run.label,
            f"{run.seconds:.2f}",
            f"{run.read_seconds:.2f}",
            f"{run.verifies:,}",
            f"{len(run.report.plan.steps):,}",
        ]
        for r in results
        for run in r.runs
    ]
    return table(
        ["users", "argon2 cost", "import", "seconds", "of which file", "argon2 verifies", "steps"],
        rows,
    )
