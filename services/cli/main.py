"""``hotdesk``: the operator's command line.

Directory commands talk to Redis directly (an import is one transaction,
a platform administrator's path); ``logout``, ``unlock``, ``set-pin`` and
``status`` go through the admin API as the operator of an API token (its
role and tenants); everything else goes through the services' gRPC APIs
with the operator's certificate, so the CLI sees and changes exactly what
Kamailio and the phones see.

Exit codes: 0 done, 1 refused (the answer was no), 2 bad usage or invalid
input, 3 a service or Redis did not answer.
"""

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Literal

from pydantic import ValidationError

from services.cli import directory, pins, provisioning, sessions
from services.cli.exits import Exit, Failure
from services.cli.settings import CliSettings

Command = Callable[[argparse.Namespace, CliSettings], Coroutine[None, None, Exit]]


DeviceUse = Literal["required", "optional", "alternative"] | None


def _user_options(p: argparse.ArgumentParser, *, device: DeviceUse) -> None:
    """``--tenant/--ext`` or ``--hotdesk-id`` for the user; ``device`` says
    whether ``--device`` is "required", "optional", an "alternative" to the
    user, or not taken (None)."""
    if device is not None:
        p.add_argument("--device", required=device == "required", help="device id, e.g. hd3001")
    p.add_argument("--tenant", help="the user's tenant (with --ext)")
    p.add_argument("--ext", help="the user's extension (with --tenant)")
    p.add_argument("--hotdesk-id", help="the user's global hot-desk id, instead of tenant/ext")
    p.set_defaults(device_use=device, user_options=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotdesk", description="Operate hotdesk-edge.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dir_parser = sub.add_parser("directory", help="validate or import a directory file")
    dir_sub = dir_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = dir_sub.add_parser("import", help="make Redis hold the file (the file is the full truth)")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="only show what would change")
    imp.set_defaults(run=directory.import_)
    val = dir_sub.add_parser("validate", help="check a directory file; writes nothing")
    val.add_argument("file")
    val.set_defaults(run=directory.validate)

    login = sub.add_parser("login", help="log a user in at a device (as an operator)")
    _user_options(login, device="required")
    login.add_argument("--takeover", action="store_true", help="take over an occupied device")
    login.add_argument(
        "--with-pin",
        action="store_true",
        help="log in as the user would: ask for the PIN (through the auth service)",
    )
    login.set_defaults(run=sessions.login)

    logout = sub.add_parser("logout", help="end the session on a device or of a user")
    _user_options(logout, device="alternative")
    logout.set_defaults(run=sessions.logout)

    status = sub.add_parser("status", help="who is on which device; idle devices too")
    status.add_argument("--tenant", help="only this tenant's devices")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=sessions.status)

    where = sub.add_parser(
        "session-location",
        help="where emergency calls from a device say it is until its session ends",
    )
    where.add_argument("device", help="the device of a live session")
    for name in sessions.LOCATION_OPTIONS:
        where.add_argument(f"--{name}", help=f"{name} (over the desk's own location)")
    where.add_argument("--json", help="a location in the directory's format, as JSON")
    where.add_argument("--clear", action="store_true", help="back to the desk's own location")
    where.set_defaults(run=sessions.session_location)

    unlock = sub.add_parser(
        "unlock", help="clear PIN lockouts of a user (on one device or all), or of a device"
    )
    _user_options(unlock, device="optional")
    unlock.set_defaults(run=pins.unlock)

    set_pin = sub.add_parser("set-pin", help="set a user's PIN (read from the terminal or stdin)")
    _user_options(set_pin, device=None)
    set_pin.set_defaults(run=pins.set_pin)

    _profile_commands(sub)
    _provision_commands(sub)
    return parser


def _model_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--vendor", required=required, default="", help="yealink, polycom or snom")
    p.add_argument("--model", required=required, default="", help="e.g. T54W, VVX450")


def _profile_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    profile = sub.add_parser("profile", help="a user's phone keys and settings per phone model")
    psub = profile.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = psub.add_parser("show", help="the user's profiles (or the one of --vendor/--model)")
    _user_options(show, device=None)
    _model_options(show, required=False)
    show.set_defaults(run=provisioning.profile_show)
    put = psub.add_parser("set", help="replace the user's profile for a model (phone resyncs)")
    _user_options(put, device=None)
    _model_options(put, required=True)
    put.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KIND:VALUE:LABEL",
        help="a key after Logout, in order: blf:1002:Bob or speed_dial:+4930123:Reception",
    )
    put.add_argument("--ringer", type=int, default=1, help="ring tone 1..8 (default 1)")
    put.set_defaults(run=provisioning.profile_set)
    delete = psub.add_parser("delete", help="forget the user's profile for a model")
    _user_options(delete, device=None)
    _model_options(delete, required=True)
    delete.set_defaults(run=provisioning.profile_delete)


def _provision_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    prov = sub.add_parser("provision", help="what desk phones were told and have fetched")
    psub = prov.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = psub.add_parser("status", help="provisioned or pending, per device")
    status.add_argument("--tenant", help="only this tenant's devices")
    status.add_argument("--device", help="only this device")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=provisioning.provision_status)
    resync = psub.add_parser("resync", help="tell a phone to fetch its files now (check-sync)")
    resync.add_argument("--device", required=True, help="device id, e.g. hd3001")
    resync.set_defaults(run=provisioning.provision_resync)


def _check_user(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if not getattr(args, "user_options", False):
        return
    use: DeviceUse = args.device_use
    if bool(args.tenant) != bool(args.ext):
        parser.error("--tenant and --ext go together")
    has_user = bool(args.ext) or bool(args.hotdesk_id)
    if args.ext and args.hotdesk_id:
        parser.error("name the user by --tenant/--ext or by --hotdesk-id, not both")
    if use == "alternative" and has_user and args.device:
        parser.error(f"{args.command} takes --device or a user, not both")
    if use in ("required", None) and not has_user:
        parser.error("name the user with --tenant and --ext, or with --hotdesk-id")
    if use in ("optional", "alternative") and not (has_user or args.device):
        parser.error(f"{args.command} needs --device or a user (--tenant/--ext, --hotdesk-id)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        _check_user(args, parser)
    except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else Exit.INVALID
    try:
        settings = CliSettings()
    except ValidationError as exc:
        print(f"hotdesk: bad HOTDESK_CLI_ setting: {exc}", file=sys.stderr)
        return Exit.INVALID
    run: Command = args.run
    try:
        return asyncio.run(run(args, settings))
    except Failure as exc:
        print(f"hotdesk: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    raise SystemExit(main())
