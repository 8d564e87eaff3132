"""``hotdesk unlock`` and ``hotdesk set-pin``: PIN lockouts and PIN
resets, through the admin API as the operator of the CLI's API token."""

import argparse

from services.cli.admin_api import admin_api, segment, user_path
from services.cli.args import read_pin, user_label
from services.cli.exits import Exit
from services.cli.settings import CliSettings


async def unlock(args: argparse.Namespace, settings: CliSettings) -> Exit:
    async with admin_api(settings) as api:
        if args.ext or args.hotdesk_id:
            path = f"{await user_path(api, args)}/unlock"
            body = {"device_id": args.device} if args.device else {}
        else:
            path, body = f"/devices/{segment(args.device)}/unlock", None
        reply = await api.call("POST", path, body)
    print(f"cleared {reply['cleared']} lockout counter(s)")
    return Exit.OK


async def set_pin(args: argparse.Namespace, settings: CliSettings) -> Exit:
    pin = read_pin(f"new PIN for {user_label(args)}: ", confirm=True)
    async with admin_api(settings) as api:
        await api.call("PUT", f"{await user_path(api, args)}/pin", {"pin": pin})
    print(f"PIN set for {user_label(args)}")
    return Exit.OK
