"""The ``hotdesk`` command against real services on real ports."""

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.auth.service import start_auth_service
from services.binding.service import start_binding_service
from services.cli.main import main
from tests.support.redis_server import RedisServer, free_port
from tests.support.services import auth_settings, binding_settings

EXAMPLE = str(Path(__file__).parents[2] / "examples" / "directory.yaml")


@pytest.fixture
def cli_env(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTDESK_CLI_REDIS_URL", redis_server.url)
    monkeypatch.setenv("HOTDESK_CLI_OPERATOR", "ann")
    monkeypatch.setenv("HOTDESK_CLI_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("HOTDESK_CLI_ARGON2_MEMORY_COST_KIB", "8")
    monkeypatch.setenv("HOTDESK_CLI_ARGON2_PARALLELISM", "1")


@pytest.fixture
async def services(
    redis_server: RedisServer, redis: Redis, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    binding = await start_binding_service(binding_settings(redis_server.url))
    auth = await start_auth_service(auth_settings(redis_server.url, binding.grpc_port))
    monkeypatch.setenv("HOTDESK_CLI_BINDING_ADDRESS", f"127.0.0.1:{binding.grpc_port}")
    monkeypatch.setenv("HOTDESK_CLI_AUTH_ADDRESS", f"127.0.0.1:{auth.grpc_port}")
    yield
    await auth.stop()
    await binding.stop()


async def hotdesk(*argv: str) -> int:
    """Run the CLI in a thread (it runs its own event loop) while the
    services keep serving on this one."""
    return await asyncio.to_thread(main, list(argv))


async def test_import_validate_and_exit_codes(
    redis: Redis, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hotdesk("directory", "validate", EXAMPLE) == 0
    assert "valid (2 tenants, 5 users, 4 devices)" in capsys.readouterr().out
    assert await hotdesk("directory", "import", EXAMPLE) == 0
    out = capsys.readouterr().out
    assert "+ user acme/1001" in out and "11 added, 0 changed, 0 removed" in out
    assert "4711" not in out and "demo-secret" not in out
    assert await hotdesk("directory", "import", EXAMPLE) == 0
    assert "0 added, 0 changed, 0 removed" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants: [{id: a, domain: a.example, nope: 1}]\n")
    assert await hotdesk("directory", "import", str(bad)) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: tenants[0] (a, line 1): nope: Extra inputs" in err
    assert "nothing was written" in err


async def test_login_status_logout_unlock(
    services: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hotdesk("directory", "import", EXAMPLE) == 0
    capsys.readouterr()
    assert await hotdesk("login", "--device", "hd3001", "--tenant", "acme", "--ext", "1001") == 0
    assert "logged_in: acme/1001 (Alice Example) on hd3001" in capsys.readouterr().out
    assert await hotdesk("login", "--device", "hd3001", "--tenant", "acme", "--ext", "1002") == 1
    assert "device_occupied: acme/1001 is on hd3001 (use --takeover)" in capsys.readouterr().err
    assert await hotdesk("login", "--device", "gx4001", "--hotdesk-id", "alice") == 0
    out = capsys.readouterr().out
    assert "on gx4001" in out and "ended: acme/1001 on hd3001" in out
    assert await hotdesk("status", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["device"]: r["user"] for r in rows} == {
        "hd3001": "idle",
        "hd3002": "idle",
        "hd3003": "idle",
        "gx4001": "acme/1001",
    }
    assert await hotdesk("status", "--tenant", "acme") == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == [
        "DEVICE",
        "TENANT",
        "MODEL",
        "USER",
        "NAME",
        "SINCE",
        "EXPIRES",
    ]
    assert "3 devices, 0 in use, 3 idle" in table
    assert await hotdesk("logout", "--tenant", "acme", "--ext", "1001") == 0
    assert "logged out: acme/1001 from gx4001" in capsys.readouterr().out
    assert await hotdesk("logout", "--device", "gx4001") == 1
    assert await hotdesk("unlock", "--tenant", "acme", "--ext", "1001") == 0
    assert "cleared 0 lockout counter(s)" in capsys.readouterr().out


async def test_usage_errors_and_unreachable_service(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        await hotdesk("login", "--device", "hd3001", "--tenant", "acme")
    assert usage.value.code == 2
    assert "--tenant and --ext go together" in capsys.readouterr().err
    monkeypatch.setenv("HOTDESK_CLI_BINDING_ADDRESS", f"127.0.0.1:{free_port()}")
    assert await hotdesk("status") == 3
    assert "service unreachable at 127.0.0.1:" in capsys.readouterr().err


async def test_login_with_pin_goes_through_the_auth_service(
    services: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hotdesk("directory", "import", EXAMPLE) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("0000\n"))
    argv = ("login", "--with-pin", "--device", "hd3003", "--tenant", "acme", "--ext", "1003")
    assert await hotdesk(*argv) == 1
    assert "refused, wrong_pin" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("5173\n"))
    assert await hotdesk(*argv) == 0
    assert "logged_in: acme/1003 (Carol Example) on hd3003" in capsys.readouterr().out
