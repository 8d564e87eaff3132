"""Redis backup and restore, as the README's Operations section says to do
them: an online RDB copy from the primary (`redis-cli --rdb`), restored
into an empty data directory and turned back into an AOF, then a normal
start. Sessions, PIN hashes, the directory and the event streams are all
there again."""

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

from hotdesk.v1 import binding_pb2 as pb

from services.binding.core import BindingCore
from services.kernel.redis_conn import connect
from services.kernel.tenants import TenantCache
from tests.directory.support import dump
from tests.support.demo import import_demo_directory
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer


def _cli(port: int, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


async def _log_in_and_dump(url: str) -> dict[str, Any]:
    redis = connect(url)
    tenants = TenantCache(redis)
    await tenants.refresh()
    ref = pb.UserRef(tenant="acme", extension="1001")
    login = await BindingCore(redis, tenants).login("hd3001", ref, allow_takeover=False, actor="t")
    assert login.result == pb.LOGIN_RESULT_LOGGED_IN
    state = await dump(redis)
    await redis.aclose()
    return state


async def _dump(url: str) -> dict[str, Any]:
    redis = connect(url)
    state = await dump(redis)
    await redis.aclose()
    return state


def _until(done: Any, what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _answers(port: int) -> bool:
    try:
        return _cli(port, "ping").strip() == "PONG"
    except subprocess.CalledProcessError:
        return False


def _restore(backup: Path, data: Path, port: int) -> None:
    """Load the copy without AOF, turn AOF on (Redis rewrites it from
    memory), stop: the data directory is ready for a normal start."""
    (data / "hotdesk.rdb").write_bytes(backup.read_bytes())
    loading = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)),
            *("--dbfilename", "hotdesk.rdb", "--appendonly", "no", "--save", ""),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _until(lambda: _answers(port), "the restored Redis did not start")
        _cli(port, "config", "set", "appendonly", "yes")

        def written() -> bool:
            info = _cli(port, "info", "persistence")
            return "aof_enabled:1" in info and "aof_rewrite_in_progress:0" in info

        _until(written, "the AOF was not written")
        _cli(port, "shutdown")
        loading.wait(timeout=10)
    finally:
        if loading.poll() is None:
            loading.kill()


def test_a_backup_restores_every_session(own_redis_server: RedisServer, tmp_path: Path) -> None:
    source = own_redis_server
    import_demo_directory(source.url)
    before = asyncio.run(_log_in_and_dump(source.url))

    # Backup: an online copy, while the primary keeps serving.
    backup = tmp_path / "backup" / "hotdesk.rdb"
    backup.parent.mkdir()
    _cli(source.port, "--rdb", str(backup))

    data = tmp_path / "restored"
    data.mkdir()
    port = free_port()
    _restore(backup, data, port)
    restored = RedisServer(data, port=port)
    restored.start()
    try:
        assert asyncio.run(_dump(restored.url)) == before
    finally:
        restored.stop()
