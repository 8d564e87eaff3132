"""``hotdesk profile ...`` and ``hotdesk provision ...`` against the real
provision, binding and auth services."""

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.cli.main import main
from tests.support import pki
from tests.support.provision import Stack, provision_stack
from tests.support.redis_server import RedisServer


@pytest.fixture
async def stack(
    redis: Redis, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    async with provision_stack(redis_server.url) as s:
        monkeypatch.setenv("HOTDESK_CLI_PROVISION_ADDRESS", f"127.0.0.1:{s.provision.grpc_port}")
        for name, value in pki.tls_env("HOTDESK_CLI_", "operator:ann").items():
            monkeypatch.setenv(name, value)
        yield s


async def hotdesk(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


USER = ("--tenant", "acme", "--ext", "1001")
MODEL = ("--vendor", "yealink", "--model", "T54W")


async def test_profile_set_show_delete(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert await hotdesk("profile", "show", *USER) == 0
    assert "no profiles yet" in capsys.readouterr().out
    code = await hotdesk(
        "profile", "set", *USER, *MODEL, "--key", "blf:1002:Bob", "--key", "speed_dial:200:Lab"
    )
    assert code == 0
    capsys.readouterr()
    assert await hotdesk("profile", "show", *USER) == 0
    shown = capsys.readouterr().out
    assert "key 1: Logout" in shown
    assert "key 2: blf 1002 'Bob'" in shown and "key 3: speed_dial 200 'Lab'" in shown
    assert await hotdesk("profile", "delete", *USER, *MODEL) == 0
    assert await hotdesk("profile", "delete", *USER, *MODEL) == 1


async def test_bad_key_and_unknown_user_are_usage_errors(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hotdesk("profile", "set", *USER, *MODEL, "--key", "blf:1002") == 2
    assert "KIND:VALUE:LABEL" in capsys.readouterr().err
    code = await hotdesk("profile", "set", "--tenant", "acme", "--ext", "9999", *MODEL)
    assert code == 2
    assert "no user acme/9999" in capsys.readouterr().err


async def test_provision_status_json(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    await stack.login("hd3002", "1002")
    assert await hotdesk("provision", "status", "--tenant", "acme", "--json") == 0
    rows = {r["device"]: r for r in json.loads(capsys.readouterr().out)}
    assert sorted(rows) == ["hd3001", "hd3002", "hd3003"]
    assert rows["hd3002"]["user"] == "acme/1002"
    assert rows["hd3002"]["state"] == "pending" and rows["hd3002"]["generation"] == 1
    # Nobody answers pushes in this test: the resync is not delivered.
    assert await hotdesk("provision", "resync", "--device", "hd3001") == 1
    assert "check-sync to hd3001: timeout" in capsys.readouterr().out
