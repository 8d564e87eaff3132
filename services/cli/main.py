"""``hotdesk``: the operator's command line.

Directory commands talk to Redis directly (an import is one transaction);
everything else goes through the services' gRPC APIs, so the CLI sees and
changes exactly what Kamailio and the phones see.

Exit codes: 0 done, 1 refused (the answer was no), 2 invalid input,
3 a service or Redis is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import ConnectionError as RedisConnectionError

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter, ImportRefused
from services.directory.load import DirectoryError, load_directory
from services.kernel.redis_conn import connect

OK, REFUSED, INVALID, UNAVAILABLE = 0, 1, 2, 3


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_CLI_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    binding_address: str = "127.0.0.1:7100"
    auth_address: str = "127.0.0.1:7200"
    operator: str = os.environ.get("USER", "operator")
    # argon2id cost for PINs hashed by an import (as the auth service's).
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    argon2_parallelism: int = 4


def _when(ms: int) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _user(args: argparse.Namespace) -> pb.UserRef:
    if args.hotdesk_id:
        return pb.UserRef(hotdesk_id=args.hotdesk_id)
    return pb.UserRef(tenant=args.tenant, extension=args.ext)


async def _directory(args: argparse.Namespace, s: CliSettings) -> int:
    try:
        directory = load_directory(Path(args.file))
    except DirectoryError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was written", file=sys.stderr)
        return INVALID
    if args.action == "validate":
        print(
            f"{args.file}: valid ({len(directory.tenants)} tenants, "
            f"{len(directory.users)} users, {len(directory.devices)} devices)"
        )
        return OK
    redis = connect(s.redis_url)
    hasher = PinHasher(s.argon2_time_cost, s.argon2_memory_cost_kib, s.argon2_parallelism)
    try:
        report = await DirectoryImporter(redis, hasher).apply(directory, dry_run=args.dry_run)
    except ImportRefused as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return REFUSED
    except (RedisConnectionError, OSError) as exc:
        print(f"cannot reach Redis at {s.redis_url}: {exc}", file=sys.stderr)
        return UNAVAILABLE
    finally:
        await redis.aclose()
    for line in [*report.removed, *report.changed, *report.added]:
        print(line)
    for session in report.sessions_ended:
        print(f"  session ended: {session}")
    prefix = "dry run: would apply " if args.dry_run else ""
    print(f"{prefix}{report.summary()} (directory version {report.version})")
    return OK


async def _binding(
    args: argparse.Namespace,
    s: CliSettings,
    call: Callable[[binding_pb2_grpc.BindingServiceAsyncStub], Awaitable[int]],
) -> int:
    async with grpc.aio.insecure_channel(s.binding_address) as channel:
        return await call(binding_pb2_grpc.BindingServiceStub(channel))


def _read_pin(prompt: str) -> str:
    """From the terminal without echo, or the first line of stdin; never argv."""
    return getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()


def _print_login(r: pb.LoginResponse) -> int:
    name = pb.LoginResult.Name(r.result).removeprefix("LOGIN_RESULT_").lower()
    if r.result in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN):
        b = r.binding
        print(f"{name}: {b.tenant}/{b.extension} ({b.display_name}) on {b.device_id}")
        for ended in r.ended:
            print(f"  ended: {ended.tenant}/{ended.extension} on {ended.device_id}")
        return OK
    detail = ""
    if r.HasField("occupant"):
        o = r.occupant
        detail = f": {o.tenant}/{o.extension} is on {o.device_id}"
        if r.result == pb.LOGIN_RESULT_DEVICE_OCCUPIED:
            detail += " (use --takeover)"
    print(f"refused, {name}{detail}", file=sys.stderr)
    return REFUSED


async def _login(args: argparse.Namespace, s: CliSettings) -> int:
    if args.with_pin:
        return await _login_with_pin(args, s)

    async def call(stub: binding_pb2_grpc.BindingServiceAsyncStub) -> int:
        return _print_login(
            await stub.Login(
                pb.LoginRequest(
                    device_id=args.device,
                    user=_user(args),
                    allow_takeover=args.takeover,
                    actor=f"operator:{s.operator}",
                )
            )
        )

    return await _binding(args, s, call)


async def _login_with_pin(args: argparse.Namespace, s: CliSettings) -> int:
    """The user's own path: the PIN is checked (with backoff and lockout)."""
    pin = _read_pin("PIN: ")

    async def call(stub: auth_pb2_grpc.AuthServiceAsyncStub) -> int:
        r = await stub.LoginWithPin(
            apb.LoginWithPinRequest(
                user=_user(args),
                device_id=args.device,
                pin=pin,
                allow_takeover=args.takeover,
                channel="cli",
            )
        )
        if r.pin.result != apb.PIN_RESULT_OK:
            name = apb.PinResult.Name(r.pin.result).removeprefix("PIN_RESULT_").lower()
            wait = f", retry in {r.pin.retry_after_seconds} s" if r.pin.retry_after_seconds else ""
            print(f"refused, {name}{wait}", file=sys.stderr)
            return REFUSED
        return _print_login(r.login)

    return await _auth(s, call)


async def _logout(args: argparse.Namespace, s: CliSettings) -> int:
    async def call(stub: binding_pb2_grpc.BindingServiceAsyncStub) -> int:
        request = pb.LogoutRequest(reason=pb.CHANGE_REASON_OPERATOR, actor=f"operator:{s.operator}")
        if args.device:
            request.device_id = args.device
        else:
            request.user.CopyFrom(_user(args))
        r = await stub.Logout(request)
        if r.result == pb.LOGOUT_RESULT_LOGGED_OUT:
            print(f"logged out: {r.ended.tenant}/{r.ended.extension} from {r.ended.device_id}")
            return OK
        name = pb.LogoutResult.Name(r.result).removeprefix("LOGOUT_RESULT_").lower()
        print(f"nothing to do: {name}", file=sys.stderr)
        return REFUSED

    return await _binding(args, s, call)


async def _status(args: argparse.Namespace, s: CliSettings) -> int:
    async def call(stub: binding_pb2_grpc.BindingServiceAsyncStub) -> int:
        listed = await stub.List(pb.ListRequest(tenant=args.tenant or "", include_idle=True))
        rows = []
        for d in listed.devices:
            b = d.binding
            bound = d.HasField("binding")
            rows.append(
                {
                    "device": d.device_id,
                    "tenant": d.tenant,
                    "model": f"{d.vendor} {d.model}",
                    "user": f"{b.tenant}/{b.extension}" if bound else "idle",
                    "name": b.display_name if bound else "",
                    "since": _when(b.since_unix_ms) if bound else "",
                    "expires": _when(b.expires_unix_ms) if bound else "",
                }
            )
        if args.json:
            print(json.dumps(rows, indent=2))
            return OK
        headers = ["device", "tenant", "model", "user", "name", "since", "expires"]
        widths = {h: max([len(h)] + [len(r[h]) for r in rows]) for h in headers}
        print("  ".join(h.upper().ljust(widths[h]) for h in headers).rstrip())
        for r in rows:
            print("  ".join(r[h].ljust(widths[h]) for h in headers).rstrip())
        bound_count = sum(1 for r in rows if r["user"] != "idle")
        print(f"{len(rows)} devices, {bound_count} in use, {len(rows) - bound_count} idle")
        return OK

    return await _binding(args, s, call)


async def _auth(
    s: CliSettings, call: Callable[[auth_pb2_grpc.AuthServiceAsyncStub], Awaitable[int]]
) -> int:
    async with grpc.aio.insecure_channel(s.auth_address) as channel:
        return await call(auth_pb2_grpc.AuthServiceStub(channel))


async def _unlock(args: argparse.Namespace, s: CliSettings) -> int:
    async def call(stub: auth_pb2_grpc.AuthServiceAsyncStub) -> int:
        request = apb.UnlockRequest(device_id=args.device or "", actor=f"operator:{s.operator}")
        if args.ext or args.hotdesk_id:
            request.user.CopyFrom(_user(args))
        r = await stub.Unlock(request)
        print(f"cleared {r.cleared} lockout counter(s)")
        return OK

    return await _auth(s, call)


async def _set_pin(args: argparse.Namespace, s: CliSettings) -> int:
    pin = _read_pin("new PIN: ")

    async def call(stub: auth_pb2_grpc.AuthServiceAsyncStub) -> int:
        await stub.SetPin(
            apb.SetPinRequest(user=_user(args), pin=pin, actor=f"operator:{s.operator}")
        )
        print("PIN set")
        return OK

    return await _auth(s, call)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotdesk", description="Operate hotdesk-edge.")
    sub = parser.add_subparsers(dest="command", required=True)

    directory = sub.add_parser("directory", help="validate or import a directory file")
    dsub = directory.add_subparsers(dest="action", required=True)
    imp = dsub.add_parser("import", help="apply a directory file (the file is the full truth)")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="show what would change")
    val = dsub.add_parser("validate", help="check a directory file, write nothing")
    val.add_argument("file")

    def user_args(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--tenant")
        p.add_argument("--ext", help="extension")
        p.add_argument("--hotdesk-id", help="the user's global hot-desk id, instead of tenant/ext")
        p.set_defaults(user_required=required)

    login = sub.add_parser("login", help="log a user in at a device (operator action)")
    login.add_argument("--device", required=True)
    user_args(login, True)
    login.add_argument("--takeover", action="store_true", help="take over an occupied device")
    login.add_argument(
        "--with-pin",
        action="store_true",
        help="log in as the user does: ask for the PIN (auth service)",
    )

    logout = sub.add_parser("logout", help="log out a device or a user (operator action)")
    logout.add_argument("--device")
    user_args(logout, False)

    status = sub.add_parser("status", help="who is on which device; idle devices")
    status.add_argument("--tenant")
    status.add_argument("--json", action="store_true")

    unlock = sub.add_parser("unlock", help="clear PIN lockouts of a user and/or a device")
    unlock.add_argument("--device")
    user_args(unlock, False)

    set_pin = sub.add_parser("set-pin", help="set a user's PIN (read from the terminal/stdin)")
    user_args(set_pin, True)
    return parser


def _check_user_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if not hasattr(args, "user_required"):
        return
    has_user = bool(args.hotdesk_id) or bool(args.tenant and args.ext)
    if (args.tenant or args.ext) and not (args.tenant and args.ext):
        parser.error("--tenant and --ext go together")
    if args.user_required and not has_user:
        parser.error("name the user with --tenant and --ext, or --hotdesk-id")
    if args.command in ("logout", "unlock") and not (has_user or args.device):
        parser.error(f"{args.command} needs --device, or a user (--tenant/--ext, --hotdesk-id)")
    if args.command == "logout" and has_user and args.device:
        parser.error("logout takes --device or a user, not both")


_COMMANDS: dict[str, Callable[[argparse.Namespace, CliSettings], Coroutine[Any, Any, int]]] = {
    "directory": _directory,
    "login": _login,
    "logout": _logout,
    "status": _status,
    "unlock": _unlock,
    "set-pin": _set_pin,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_user_args(args, parser)
    settings = CliSettings()
    try:
        return asyncio.run(_COMMANDS[args.command](args, settings))
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            address = (
                settings.auth_address
                if args.command in ("unlock", "set-pin")
                else settings.binding_address
            )
            print(f"service unreachable at {address}: {exc.details()}", file=sys.stderr)
            return UNAVAILABLE
        print(f"{exc.code().name.lower()}: {exc.details()}", file=sys.stderr)
        return (
            INVALID
            if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
            else REFUSED
        )


if __name__ == "__main__":
    raise SystemExit(main())
