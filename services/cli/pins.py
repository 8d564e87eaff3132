"""``hotdesk unlock`` and ``hotdesk set-pin``: the auth service's operator
calls."""

import argparse

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc

from services.cli import rpc
from services.cli.args import read_pin, user_label, user_ref
from services.cli.exits import Exit
from services.cli.settings import CliSettings


async def unlock(args: argparse.Namespace, settings: CliSettings) -> Exit:
    request = apb.UnlockRequest(device_id=args.device or "")
    if args.ext or args.hotdesk_id:
        request.user.CopyFrom(user_ref(args))
    service = rpc.auth(settings)
    async with rpc.channel(service) as channel:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).Unlock(
            request, timeout=service.timeout
        )
    print(f"cleared {reply.cleared} lockout counter(s)")
    return Exit.OK


async def set_pin(args: argparse.Namespace, settings: CliSettings) -> Exit:
    pin = read_pin(f"new PIN for {user_label(args)}: ", confirm=True)
    request = apb.SetPinRequest(user=user_ref(args), pin=pin)
    service = rpc.auth(settings)
    async with rpc.channel(service) as channel:
        await auth_pb2_grpc.AuthServiceStub(channel).SetPin(request, timeout=service.timeout)
    print(f"PIN set for {user_label(args)}")
    return Exit.OK
