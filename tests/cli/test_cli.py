"""The ``hotdesk`` command: ``main([...])`` against a real Redis, real
binding and auth services and the real admin API on real ports."""

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.admin import metrics
from services.cli.main import main
from services.kernel import keys
from tests.directory.support import EXAMPLE, GROUP, dump, edited
from tests.support import pki
from tests.support.admin import AdminStack, admin_stack
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.secrets import pin_digest_key_file, secrets_key_file

FILE = str(EXAMPLE)


@pytest.fixture
def cli_env(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTDESK_CLI_REDIS_URL", redis_server.url)
    monkeypatch.setenv("HOTDESK_CLI_SECRETS_KEY_FILE", str(secrets_key_file()))
    monkeypatch.setenv("HOTDESK_CLI_PIN_DIGEST_KEY_FILE", str(pin_digest_key_file()))
    for name, value in pki.tls_env("HOTDESK_CLI_", "operator:ann").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOTDESK_CLI_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("HOTDESK_CLI_ARGON2_MEMORY_COST_KIB", "8")
    monkeypatch.setenv("HOTDESK_CLI_ARGON2_PARALLELISM", "1")


@pytest.fixture
async def admin(
    redis_server: RedisServer,
    redis: Redis,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[AdminStack]:
    """Binding, auth, provision and the admin API; the CLI holds a platform
    admin's API token (``root``)."""
    async with admin_stack(redis_server.url) as s:
        monkeypatch.setenv("HOTDESK_CLI_BINDING_ADDRESS", f"127.0.0.1:{s.stack.binding.grpc_port}")
        monkeypatch.setenv("HOTDESK_CLI_AUTH_ADDRESS", f"127.0.0.1:{s.stack.auth.grpc_port}")
        monkeypatch.setenv("HOTDESK_CLI_ADMIN_URL", s.url)
        token = await s.token_file("root", tmp_path)
        monkeypatch.setenv("HOTDESK_CLI_ADMIN_TOKEN_FILE", str(token))
        yield s


@pytest.fixture
async def services(admin: AdminStack) -> None:
    """The services the CLI calls, with a platform admin's token."""


async def hotdesk(*argv: str) -> int:
    """Run the CLI in a thread (it runs its own event loop) while the
    services keep serving on this one."""
    return await asyncio.to_thread(main, list(argv))


Capture = pytest.CaptureFixture[str]


def line_of(text: str, part: str) -> int:
    return text[: text.index(part)].count("\n") + 1


async def test_validate(cli_env: None, tmp_path: Path, capsys: Capture) -> None:
    assert await hotdesk("directory", "validate", FILE) == 0
    assert capsys.readouterr().out == f"{FILE}: valid: 2 tenants, 5 users, 4 devices\n"
    bad = tmp_path / "bad.yaml"
    text = edited(('pin: "4711"', 'pin: "1111"'), ("vendor: polycom", "vendor: cisco"))
    bad.write_text(text)
    assert await hotdesk("directory", "validate", str(bad)) == 2
    pin_line, vendor_line = line_of(text, 'pin: "1111"'), line_of(text, "vendor: cisco")
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}:{pin_line}: users[0] (acme/1001): pin: PIN must not repeat one digit",
        f"{bad}:{vendor_line}: devices[2] (hd3003): vendor: "
        "Input should be 'yealink', 'polycom' or 'snom'",
        f"hotdesk: 2 problem(s) in {bad}; nothing was written",
    ]


async def test_import_reimport_and_dry_run(redis: Redis, cli_env: None, capsys: Capture) -> None:
    assert await hotdesk("directory", "import", "--dry-run", FILE) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "dry run, nothing written: 13 added, 0 changed, 0 removed"
    assert await redis.keys("*") == []

    assert await hotdesk("directory", "import", FILE) == 0
    out = capsys.readouterr().out
    assert "+ user acme/1001\n" in out and "+ device hd3001\n" in out
    assert out.endswith("13 added, 0 changed, 0 removed (directory version 1)\n")
    assert "4711" not in out and "demo-secret" not in out

    assert await hotdesk("directory", "import", FILE) == 0
    assert capsys.readouterr().out == "0 added, 0 changed, 0 removed (directory version 1)\n"


async def test_an_invalid_or_refused_import_writes_nothing(
    redis: Redis, cli_env: None, tmp_path: Path, capsys: Capture
) -> None:
    assert await hotdesk("directory", "import", FILE) == 0
    before = await dump(redis)
    capsys.readouterr()

    bad = tmp_path / "bad.yaml"
    text = edited(
        ("name: Bob Example", "name: Bob B"),
        ('  - tenant: acme\n    extension: "1001"', '  - tenant: nope\n    extension: "1001"'),
    )
    bad.write_text(text)
    assert await hotdesk("directory", "import", str(bad)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}:{line_of(text, 'tenant: nope')}: users[0] (nope/1001): tenant: no tenant 'nope' "
        "declared",
        f"hotdesk: 1 problem(s) in {bad}; nothing was written",
    ]

    regrouped = tmp_path / "regrouped.yaml"
    regrouped.write_text(
        edited(
            ("London\n    cross_tenant_group: acme-group", "London\n    cross_tenant_group: other")
        )
    )
    assert await hotdesk("directory", "import", str(regrouped)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hotdesk: {regrouped}: tenant globex: cross_tenant_group cannot change")
    assert "remove the tenant first" in err and err.endswith("; nothing was written\n")

    assert await dump(redis) == before


async def test_redis_unreachable(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    port = free_port()
    monkeypatch.setenv("HOTDESK_CLI_REDIS_URL", f"redis://:s3cret@127.0.0.1:{port}/0")
    assert await hotdesk("directory", "import", FILE) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"hotdesk: cannot reach Redis at redis://***@127.0.0.1:{port}/0: ")
    assert "s3cret" not in err


async def test_login_logout_status(redis: Redis, services: None, capsys: Capture) -> None:
    assert await hotdesk("directory", "import", FILE) == 0
    capsys.readouterr()

    assert await hotdesk("login", "--device", "hd3001", "--tenant", "acme", "--ext", "1001") == 0
    out = capsys.readouterr().out
    assert out.startswith("logged in: Alice Example (acme/1001) on hd3001 until ")
    assert await hotdesk("login", "--device", "hd3001", "--tenant", "acme", "--ext", "1002") == 1
    assert capsys.readouterr().err == (
        "refused: Alice Example (acme/1001) is on hd3001; add --takeover to take it over\n"
    )
    argv = ("login", "--device", "hd3001", "--tenant", "acme", "--ext", "1002", "--takeover")
    assert await hotdesk(*argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("logged in: Bob Example (acme/1002) on hd3001")
    assert lines[1] == "  logged out: Alice Example (acme/1001) on hd3001"
    assert await hotdesk("login", "--device", "gx4001", "--hotdesk-id", "alice") == 0
    assert capsys.readouterr().out == "logged in: Alice Example (acme/1001) on gx4001\n"
    assert await hotdesk("login", "--device", "hd3002", "--tenant", "acme", "--ext", "2001") == 1
    assert capsys.readouterr().err == "refused: acme/2001 is not a hot-desk user\n"
    assert await hotdesk("login", "--device", "hd3002", "--tenant", "acme", "--ext", "9") == 2
    assert capsys.readouterr().err == "no such user: acme/9\n"

    assert await hotdesk("status", "--json") == 0
    rows = {r["device"]: r for r in json.loads(capsys.readouterr().out)}
    assert {d: r["user"] for d, r in rows.items()} == {
        "gx4001": "acme/1001",
        "hd3001": "acme/1002",
        "hd3002": None,
        "hd3003": None,
    }
    assert rows["gx4001"]["name"] == "Alice Example" and rows["gx4001"]["expires"] is None
    assert rows["hd3001"]["since"].endswith("+00:00") and rows["hd3001"]["expires"]

    assert await hotdesk("status", "--tenant", "acme") == 0
    table = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert table[0] == ["DEVICE", "TENANT", "USER", "NAME", "SINCE", "EXPIRES"]
    assert table[1][:5] == ["hd3001", "acme", "acme/1002", "Bob", "Example"]
    assert table[2] == ["hd3002", "acme", "idle", "-", "-", "-"]
    assert table[-1] == ["3", "device(s):", "1", "in", "use,", "2", "idle"]

    assert await hotdesk("logout", "--hotdesk-id", "alice") == 0
    assert capsys.readouterr().out == "logged out: Alice Example (acme/1001) from gx4001\n"
    assert await hotdesk("logout", "--device", "gx4001") == 0
    assert capsys.readouterr().out == "nothing to do: gx4001 has no session\n"
    assert await hotdesk("logout", "--device", "hd9999") == 2
    assert capsys.readouterr().err == "hotdesk: admin API: no device hd9999\n"

    # Logins by the operator's certificate; logouts through the admin API,
    # as the operator of the token.
    actors = [(e["type"], e["actor"]) for _, e in await redis.xrange(keys.events(GROUP))]
    assert {a for kind, a in actors if kind == "login"} == {"operator:ann"}
    assert {a for kind, a in actors if kind == "logout"} == {"service:admin/root"}


async def test_pins_and_unlock(
    services: None, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    assert await hotdesk("directory", "import", FILE) == 0
    capsys.readouterr()

    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    assert await hotdesk("set-pin", "--tenant", "acme", "--ext", "2001") == 0
    assert capsys.readouterr().out == "PIN set for acme/2001\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    assert await hotdesk("set-pin", "--tenant", "acme", "--ext", "2001") == 2
    assert capsys.readouterr().err == (
        "hotdesk: admin API: PIN must not be a sequence of consecutive digits\n"
    )

    with_pin = ("login", "--with-pin", "--device", "hd3003", "--tenant", "acme", "--ext", "1003")
    monkeypatch.setattr("sys.stdin", io.StringIO("0000\n"))
    assert await hotdesk(*with_pin) == 1
    assert capsys.readouterr().err == "refused: wrong PIN (2 attempt(s) left)\n"
    assert await hotdesk("unlock", "--tenant", "acme", "--ext", "1003", "--device", "hd3003") == 0
    assert capsys.readouterr().out == "cleared 1 lockout counter(s)\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("5173\n"))
    assert await hotdesk(*with_pin) == 0
    assert capsys.readouterr().out.startswith("logged in: Carol Example (acme/1003) on hd3003 ")
    assert await hotdesk("unlock", "--device", "hd3003") == 0
    assert await hotdesk("unlock", "--tenant", "acme", "--ext", "9") == 2
    assert capsys.readouterr().err.endswith("hotdesk: admin API: no user acme/9\n")


async def test_an_import_puts_back_the_file_pin_over_one_set_by_an_operator(
    redis: Redis, services: None, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """The file is the truth for the PINs it lists; the PIN's digest from
    the first import does not vouch for the PIN set since."""
    assert await hotdesk("directory", "import", FILE) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("3958\n"))
    assert await hotdesk("set-pin", "--tenant", "acme", "--ext", "1001") == 0
    capsys.readouterr()
    assert await hotdesk("directory", "import", "--dry-run", FILE) == 0
    assert capsys.readouterr().out.splitlines() == [
        "~ user acme/1001: pin changed",
        "dry run, nothing written: 0 added, 1 changed, 0 removed",
    ]
    assert await hotdesk("directory", "import", FILE) == 0
    assert capsys.readouterr().out.splitlines() == [
        "~ user acme/1001: pin changed",
        "0 added, 1 changed, 0 removed (directory version 2)",
    ]
    with_pin = ("login", "--with-pin", "--device", "hd3001", "--tenant", "acme", "--ext", "1001")
    monkeypatch.setattr("sys.stdin", io.StringIO("3958\n"))
    assert await hotdesk(*with_pin) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("4711\n"))
    assert await hotdesk(*with_pin) == 0
    assert await redis.exists(keys.pin_digest(GROUP, "acme", "1001"))


async def test_an_unreadable_pin_digest_key_stops_the_import(
    redis: Redis, cli_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Capture
) -> None:
    monkeypatch.setenv("HOTDESK_CLI_PIN_DIGEST_KEY_FILE", str(tmp_path / "absent.key"))
    assert await hotdesk("directory", "import", FILE) == 2
    assert capsys.readouterr().err.startswith(
        "hotdesk: cannot check PINs by digest: hotdesk directory import: cannot read the PIN "
        "digest key: "
    )
    assert await redis.keys("*") == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["login", "--device", "hd3001", "--tenant", "acme"], "--tenant and --ext go together"),
        (["login", "--tenant", "acme", "--ext", "1001"], "the following arguments are required"),
        (
            ["logout", "--device", "hd3001", "--hotdesk-id", "alice"],
            "logout takes --device or a user, not both",
        ),
        (["unlock"], "unlock needs --device or a user"),
        (["set-pin", "--device", "hd3001"], "unrecognized arguments: --device"),
        (["directory"], "the following arguments are required: ACTION"),
    ],
)
async def test_usage_errors(argv: list[str], message: str, capsys: Capture) -> None:
    assert await hotdesk(*argv) == 2
    assert message in capsys.readouterr().err


async def test_unreachable_services_are_named(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: Capture, tmp_path: Path
) -> None:
    binding, auth = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    api = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HOTDESK_CLI_BINDING_ADDRESS", binding)
    monkeypatch.setenv("HOTDESK_CLI_AUTH_ADDRESS", auth)
    monkeypatch.setenv("HOTDESK_CLI_ADMIN_URL", api)
    (tmp_path / "token").write_text("hdt_0123456789abcdef_x\n")
    monkeypatch.setenv("HOTDESK_CLI_ADMIN_TOKEN_FILE", str(tmp_path / "token"))
    assert await hotdesk("status") == 3
    assert capsys.readouterr().err.startswith(f"hotdesk: the admin API at {api} is unavailable: ")
    assert await hotdesk("login", "--device", "hd3003", "--hotdesk-id", "c") == 3
    assert capsys.readouterr().err.startswith(
        f"hotdesk: the binding service at {binding} is unavailable: "
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("5173\n"))
    assert await hotdesk("login", "--with-pin", "--device", "hd3003", "--hotdesk-id", "c") == 3
    assert capsys.readouterr().err.startswith(
        f"hotdesk: the auth service at {auth} is unavailable: "
    )


async def test_without_an_operator_certificate_nothing_is_called(
    monkeypatch: pytest.MonkeyPatch, capsys: Capture, tmp_path: Path
) -> None:
    for field in ("CERT", "KEY", "CA"):
        monkeypatch.setenv(f"HOTDESK_CLI_GRPC_TLS_{field}_FILE", str(tmp_path / "missing"))
    assert await hotdesk("login", "--device", "hd3001", "--hotdesk-id", "alice") == 2
    assert "no operator certificate" in capsys.readouterr().err


async def test_session_location(redis: Redis, services: None, capsys: Capture) -> None:
    assert await hotdesk("directory", "import", FILE) == 0
    assert await hotdesk("session-location", "hd3001", "--floor", "4") == 1
    assert capsys.readouterr().err.endswith("refused: nobody is logged in on hd3001\n")
    assert await hotdesk("login", "--device", "hd3001", "--tenant", "acme", "--ext", "1001") == 0
    capsys.readouterr()

    assert await hotdesk("session-location", "hd3001", "--floor", "4", "--room", "4.20") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "session location set: Alice Example (acme/1001) on hd3001"
    # The session's floor and room over the desk's address.
    shown = json.loads(out[1].removeprefix("  emergency calls now send: "))
    assert (shown["street"], shown["floor"], shown["room"]) == ("Friedrichstraße", "4", "4.20")
    assert await hotdesk("session-location", "hd3001", "--json", '{"country": "de"}') == 2
    assert "country" in capsys.readouterr().err
    assert await hotdesk("session-location", "hd3001", "--clear") == 0
    assert capsys.readouterr().out.startswith("session location cleared: ")

    audit = [
        e for _, e in await redis.xrange(keys.audit(GROUP)) if e["event"] == "session_location"
    ]
    assert [(e["actor"], e["device"], e["user"]) for e in audit] == [
        ("operator:ann", "hd3001", "acme/1001"),
        ("operator:ann", "hd3001", "acme/1001"),
    ]
    assert "floor 4, room 4.20" in audit[0]["location"]


async def test_a_tenant_admins_token_sees_and_touches_only_its_tenant(
    admin: AdminStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Capture
) -> None:
    assert await hotdesk("login", "--device", "hd3001", "--tenant", "acme", "--ext", "1001") == 0
    assert await hotdesk("login", "--device", "gx4001", "--tenant", "globex", "--ext", "3001") == 0
    token = await admin.token_file("gx-admin", tmp_path)
    monkeypatch.setenv("HOTDESK_CLI_ADMIN_TOKEN_FILE", str(token))
    capsys.readouterr()

    assert await hotdesk("status", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["device"], r["user"]) for r in rows] == [("gx4001", "globex/3001")]
    assert await hotdesk("status", "--tenant", "acme", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    # acme's objects do not exist for globex's admin: nothing changes.
    assert await hotdesk("logout", "--device", "hd3001") == 2
    assert capsys.readouterr().err == "hotdesk: admin API: no device hd3001\n"
    assert await hotdesk("logout", "--tenant", "acme", "--ext", "1001") == 2
    assert await hotdesk("logout", "--hotdesk-id", "alice") == 2
    assert capsys.readouterr().err.endswith("no user acme/1001\nhotdesk: no such user: alice\n")
    assert await hotdesk("unlock", "--device", "hd3003") == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    assert await hotdesk("set-pin", "--tenant", "acme", "--ext", "1002") == 2
    capsys.readouterr()
    monkeypatch.setenv(
        "HOTDESK_CLI_ADMIN_TOKEN_FILE", str(await admin.token_file("root", tmp_path))
    )
    assert await hotdesk("status", "--tenant", "acme", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["device"]: r["user"] for r in rows}["hd3001"] == "acme/1001"


async def test_status_pages_through_the_api(
    admin: AdminStack, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """Pages of one device each: every device still listed once, in order."""
    monkeypatch.setattr("services.cli.sessions.STATUS_PAGE", 1)
    pages = metrics.REQUESTS.labels("list_devices", "200")
    before = pages._value.get()
    assert await hotdesk("status", "--json") == 0
    devices = [r["device"] for r in json.loads(capsys.readouterr().out)]
    assert devices == ["hd3001", "hd3002", "hd3003", "gx4001"]
    # Four pages of one, and the empty last one.
    assert pages._value.get() - before == 5


async def test_a_revoked_or_missing_token_is_refused(
    admin: AdminStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Capture
) -> None:
    monkeypatch.setenv("HOTDESK_CLI_ADMIN_TOKEN_FILE", str(tmp_path / "absent"))
    assert await hotdesk("status") == 2
    assert capsys.readouterr().err.startswith("hotdesk: no admin API token: cannot read ")
    revoked = tmp_path / "revoked"
    revoked.write_text("hdt_0123456789abcdef_not-a-token\n")
    monkeypatch.setenv("HOTDESK_CLI_ADMIN_TOKEN_FILE", str(revoked))
    assert await hotdesk("status") == 1
    assert "admin API: sign in" in capsys.readouterr().err
