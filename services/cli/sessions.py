"""``hotdesk login|logout|status``: who is on which device. ``login``
goes to the binding service (``login --with-pin`` to the auth service, as
a user at the phone would); ``logout`` and ``status`` go through the admin
API as the operator of the CLI's API token."""

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb

from services.cli import rpc
from services.cli.admin_api import AdminApi, admin_api, segment, user_path
from services.cli.args import read_pin, user_label, user_ref
from services.cli.exits import Exit
from services.cli.settings import CliSettings

# Devices asked for per page by `hotdesk status` (the API's largest page).
STATUS_PAGE = 500


def _who(b: pb.Binding) -> str:
    ref = f"{b.tenant}/{b.extension}"
    return f"{b.display_name} ({ref})" if b.display_name else ref


def _local(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _iso(ms: int) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms else None


def _refused(message: str, code: Exit = Exit.REFUSED) -> Exit:
    print(message, file=sys.stderr)
    return code


def _login_outcome(r: pb.LoginResponse, device: str, user: str) -> Exit:
    """The answer in words; the exit code it means."""
    b, o = r.binding, r.occupant
    if r.result in (pb.LOGIN_RESULT_LOGGED_IN, pb.LOGIN_RESULT_ALREADY_LOGGED_IN):
        until = f" until {_local(b.expires_unix_ms)}" if b.expires_unix_ms else ""
        if r.result == pb.LOGIN_RESULT_ALREADY_LOGGED_IN:
            print(f"already logged in: {_who(b)} on {b.device_id}{until}; nothing changed")
        else:
            print(f"logged in: {_who(b)} on {b.device_id}{until}")
        for e in r.ended:
            print(f"  logged out: {_who(e)} on {e.device_id}")
        return Exit.OK
    if r.result == pb.LOGIN_RESULT_DEVICE_OCCUPIED:
        return _refused(f"refused: {_who(o)} is on {device}; add --takeover to take it over")
    if r.result == pb.LOGIN_RESULT_ACTIVE_ELSEWHERE:
        return _refused(
            f"refused: {_who(o)} is logged in on {o.device_id} and the tenant allows one "
            "login at a time (second_login: deny); log out there first"
        )
    if r.result == pb.LOGIN_RESULT_UNKNOWN_USER:
        return _refused(f"no such user: {user}", Exit.INVALID)
    if r.result == pb.LOGIN_RESULT_UNKNOWN_DEVICE:
        return _refused(f"no such device: {device}", Exit.INVALID)
    if r.result == pb.LOGIN_RESULT_NOT_HOTDESK_USER:
        return _refused(f"refused: {user} is not a hot-desk user")
    if r.result == pb.LOGIN_RESULT_NOT_HOTDESK_DEVICE:
        return _refused(f"refused: {device} is not a hot-desk device")
    if r.result == pb.LOGIN_RESULT_CROSS_TENANT_DENIED:
        return _refused(
            f"refused: {user} may not log in at {device}: the device belongs to another "
            "tenant, and the two share no cross_tenant_group"
        )
    return _refused(f"refused: {pb.LoginResult.Name(r.result)}")


def _pin_refusal(r: apb.VerifyPinResponse, user: str, device: str) -> Exit:
    wait = r.retry_after_seconds
    if r.result == apb.PIN_RESULT_WRONG_PIN:
        later = f"; wait {wait} s before the next try" if wait else ""
        return _refused(f"refused: wrong PIN ({r.attempts_left} attempt(s) left{later})")
    if r.result == apb.PIN_RESULT_BACKOFF:
        return _refused(f"refused: too many wrong PINs; try again in {wait} s")
    if r.result == apb.PIN_RESULT_LOCKED:
        until = f"for {wait} s" if wait else "until an operator unlocks (hotdesk unlock)"
        return _refused(f"refused: {user} is locked on {device} {until}")
    if r.result == apb.PIN_RESULT_NO_PIN:
        return _refused(f"refused: {user} has no PIN (hotdesk set-pin sets one)")
    if r.result == apb.PIN_RESULT_UNKNOWN_USER:
        return _refused(f"no such user: {user}", Exit.INVALID)
    if r.result == apb.PIN_RESULT_UNKNOWN_DEVICE:
        return _refused(f"no such device: {device}", Exit.INVALID)
    return _refused(f"refused: {apb.PinResult.Name(r.result)}")


async def login(args: argparse.Namespace, settings: CliSettings) -> Exit:
    user = user_label(args)
    if args.with_pin:
        pin = read_pin(f"PIN of {user}: ")
        service = rpc.auth(settings)
        async with rpc.channel(service) as channel:
            reply = await auth_pb2_grpc.AuthServiceStub(channel).LoginWithPin(
                apb.LoginWithPinRequest(
                    user=user_ref(args),
                    device_id=args.device,
                    pin=pin,
                    allow_takeover=args.takeover,
                    channel="cli",
                ),
                timeout=service.timeout,
            )
        if reply.pin.result != apb.PIN_RESULT_OK:
            return _pin_refusal(reply.pin, user, args.device)
        return _login_outcome(reply.login, args.device, user)
    service = rpc.binding(settings)
    async with rpc.channel(service) as channel:
        response = await binding_pb2_grpc.BindingServiceStub(channel).Login(
            pb.LoginRequest(
                device_id=args.device,
                user=user_ref(args),
                allow_takeover=args.takeover,
            ),
            timeout=service.timeout,
        )
    return _login_outcome(response, args.device, user)


def _session_who(session: dict[str, Any]) -> str:
    ref = f"{session['tenant']}/{session['extension']}"
    return f"{session['name']} ({ref})" if session["name"] else ref


async def logout(args: argparse.Namespace, settings: CliSettings) -> Exit:
    async with admin_api(settings) as api:
        if args.device:
            target = args.device
            path = f"/devices/{segment(args.device)}/logout"
        else:
            target = user_label(args)
            path = f"{await user_path(api, args)}/logout"
        r = await api.call("POST", path)
    if r["result"] == "logged_out":
        print(f"logged out: {_session_who(r['ended'])} from {r['device']}")
    else:
        print(f"nothing to do: {target} has no session")
    return Exit.OK


def _row(d: dict[str, Any]) -> dict[str, str | None]:
    b = d["session"]
    return {
        "device": d["device_id"],
        "tenant": d["tenant"],
        "vendor": d["vendor"],
        "model": d["model"],
        "user": f"{b['tenant']}/{b['extension']}" if b else None,
        "name": b["name"] if b else None,
        "since": _iso(b["since_unix_ms"]) if b else None,
        "expires": _iso(b["expires_unix_ms"]) if b else None,
    }


def _table(devices: list[dict[str, Any]]) -> list[str]:
    header = ("DEVICE", "TENANT", "USER", "NAME", "SINCE", "EXPIRES")
    rows = [header]
    for d in devices:
        if b := d["session"]:
            expires = _local(b["expires_unix_ms"]) if b["expires_unix_ms"] else "-"
            rows.append(
                (
                    d["device_id"],
                    d["tenant"],
                    f"{b['tenant']}/{b['extension']}",
                    b["name"] or "-",
                    _local(b["since_unix_ms"]),
                    expires,
                )
            )
        else:
            rows.append((d["device_id"], d["tenant"], "idle", "-", "-", "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    in_use = sum(1 for d in devices if d["session"])
    lines.append(f"{len(devices)} device(s): {in_use} in use, {len(devices) - in_use} idle")
    return lines


async def _devices(api: AdminApi, tenant: str | None) -> list[dict[str, Any]]:
    """Every device the operator sees (of ``tenant``), page by page through
    the API's cursor: no single reply grows with the number of desks."""
    params = {"limit": str(STATUS_PAGE), **({"tenant": tenant} if tenant else {})}
    devices: list[dict[str, Any]] = []
    while True:
        page = await api.call("GET", "/devices", params=params)
        devices.extend(page["items"])
        if page["next_cursor"] is None:
            return devices
        params["cursor"] = page["next_cursor"]


async def status(args: argparse.Namespace, settings: CliSettings) -> Exit:
    async with admin_api(settings) as api:
        listed = await _devices(api, args.tenant)
    devices = sorted(listed, key=lambda d: (d["tenant"], d["device_id"]))
    if args.json:
        print(json.dumps([_row(d) for d in devices], indent=2))
    else:
        print("\n".join(_table(devices)))
    return Exit.OK


# What `hotdesk session-location` takes as options (the rest through --json).
LOCATION_OPTIONS = ("building", "floor", "room", "seat", "text")


async def session_location(args: argparse.Namespace, settings: CliSettings) -> Exit:
    """Where emergency calls from the device say it is until its session
    ends (its fields over the desk's), or the desk's own again."""
    if args.clear:
        doc = ""
    elif args.json:
        doc = args.json
    else:
        given = {k: getattr(args, k) for k in LOCATION_OPTIONS if getattr(args, k)}
        if not given:
            return _refused("give --floor/--room/... , --json or --clear", Exit.INVALID)
        doc = json.dumps(given)
    service = rpc.binding(settings)
    async with rpc.channel(service) as channel:
        r = await binding_pb2_grpc.BindingServiceStub(channel).SetSessionLocation(
            pb.SetSessionLocationRequest(device_id=args.device, location_json=doc),
            timeout=service.timeout,
        )
    if r.result == pb.SESSION_LOCATION_RESULT_UNKNOWN_DEVICE:
        return _refused(f"no such device: {args.device}", Exit.INVALID)
    if r.result == pb.SESSION_LOCATION_RESULT_NO_SESSION:
        return _refused(f"refused: nobody is logged in on {args.device}")
    what = "set" if r.result == pb.SESSION_LOCATION_RESULT_SET else "cleared"
    print(f"session location {what}: {_who(r.binding)} on {args.device}")
    print(f"  emergency calls now send: {r.location_json or '(no location)'}")
    return Exit.OK
