"""What commands take from their arguments: the user named, and a PIN (read
from the terminal without echo, or from stdin; never from the command
line, where other users of the machine and the shell history see it)."""

import argparse
import getpass
import sys

from hotdesk.v1 import binding_pb2 as pb

from services.cli.exits import Exit, Failure


def user_ref(args: argparse.Namespace) -> pb.UserRef:
    if args.hotdesk_id:
        return pb.UserRef(hotdesk_id=args.hotdesk_id)
    return pb.UserRef(tenant=args.tenant, extension=args.ext)


def user_label(args: argparse.Namespace) -> str:
    return str(args.hotdesk_id or f"{args.tenant}/{args.ext}")


def read_pin(prompt: str, *, confirm: bool = False) -> str:
    """From the terminal (twice with ``confirm``), or else stdin's first line."""
    if sys.stdin.isatty():
        pin = getpass.getpass(prompt)
        if confirm and getpass.getpass("again: ") != pin:
            raise Failure("the two PINs differ; nothing was changed", Exit.INVALID)
    else:
        pin = sys.stdin.readline().strip()
    if not pin:
        raise Failure("no PIN given", Exit.INVALID)
    return pin
