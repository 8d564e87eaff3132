"""``hotdesk profile ...`` and ``hotdesk provision ...``: users' phone
profiles and what each desk phone was told and fetched, through the
provision service."""

import argparse
import json
import sys
from datetime import UTC, datetime

from hotdesk.v1 import provision_pb2 as pb
from hotdesk.v1 import provision_pb2_grpc

from services.cli import rpc
from services.cli.args import user_label, user_ref
from services.cli.exits import Exit, Failure
from services.cli.settings import CliSettings

_KINDS = {"blf": pb.PROFILE_KEY_KIND_BLF, "speed_dial": pb.PROFILE_KEY_KIND_SPEED_DIAL}
_KIND_NAMES = {v: k for k, v in _KINDS.items()}


def parse_key(text: str) -> pb.ProfileKey:
    """``blf:1002:Bob`` or ``speed_dial:+4930123450000:Reception``."""
    kind, sep, rest = text.partition(":")
    value, sep2, label = rest.partition(":")
    if not (sep and sep2) or kind not in _KINDS or not value or not label:
        raise Failure(
            f"bad --key {text!r}: write KIND:VALUE:LABEL with KIND blf or speed_dial, "
            "e.g. blf:1002:Bob",
            Exit.INVALID,
        )
    return pb.ProfileKey(kind=_KINDS[kind], value=value, label=label)


def _show(p: pb.Profile) -> None:
    print(f"{p.user.tenant}/{p.user.extension} on {p.vendor} {p.model} (ringer {p.ringer}):")
    print("  key 1: Logout")
    for n, k in enumerate(p.keys, start=2):
        print(f"  key {n}: {_KIND_NAMES.get(k.kind, '?')} {k.value} {k.label!r}")


async def profile_show(args: argparse.Namespace, settings: CliSettings) -> Exit:
    service = rpc.provision(settings)
    async with rpc.channel(service) as ch:
        stub = provision_pb2_grpc.ProvisionServiceStub(ch)
        if args.vendor or args.model:
            one = await stub.GetProfile(
                pb.GetProfileRequest(user=user_ref(args), vendor=args.vendor, model=args.model),
                timeout=service.timeout,
            )
            profiles = [one]
        else:
            found = await stub.ListProfiles(
                pb.ListProfilesRequest(user=user_ref(args)), timeout=service.timeout
            )
            profiles = list(found.profiles)
    if not profiles:
        print(f"{user_label(args)} has no profiles yet (made at the first login on a model)")
    for p in profiles:
        _show(p)
    return Exit.OK


async def profile_set(args: argparse.Namespace, settings: CliSettings) -> Exit:
    keys = [parse_key(k) for k in args.key]
    service = rpc.provision(settings)
    async with rpc.channel(service) as ch:
        saved = await provision_pb2_grpc.ProvisionServiceStub(ch).PutProfile(
            pb.PutProfileRequest(
                profile=pb.Profile(
                    user=user_ref(args),
                    vendor=args.vendor,
                    model=args.model,
                    keys=keys,
                    ringer=args.ringer,
                ),
            ),
            timeout=service.timeout,
        )
    print("saved:", end=" ")
    _show(saved)
    return Exit.OK


async def profile_delete(args: argparse.Namespace, settings: CliSettings) -> Exit:
    service = rpc.provision(settings)
    async with rpc.channel(service) as ch:
        r = await provision_pb2_grpc.ProvisionServiceStub(ch).DeleteProfile(
            pb.DeleteProfileRequest(
                user=user_ref(args),
                vendor=args.vendor,
                model=args.model,
            ),
            timeout=service.timeout,
        )
    if not r.deleted:
        print(f"{user_label(args)} has no profile for {args.vendor} {args.model}", file=sys.stderr)
        return Exit.REFUSED
    print(f"deleted: {user_label(args)} on {args.vendor} {args.model} (next login starts anew)")
    return Exit.OK


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms else ""


def _state(d: pb.DeviceProvisioning) -> str:
    return "provisioned" if d.provisioned else "pending"


async def provision_status(args: argparse.Namespace, settings: CliSettings) -> Exit:
    service = rpc.provision(settings)
    async with rpc.channel(service) as ch:
        r = await provision_pb2_grpc.ProvisionServiceStub(ch).GetDeviceProvisioning(
            pb.DeviceProvisioningRequest(tenant=args.tenant or "", device_id=args.device or ""),
            timeout=service.timeout,
        )
    if args.json:
        rows = [
            {
                "device": d.device_id,
                "tenant": d.tenant,
                "vendor": d.vendor,
                "model": d.model,
                "user": d.user or None,
                "state": _state(d),
                "generation": d.generation,
                "fetched_generation": d.fetched_generation,
                "fetched_at": _when(d.fetched_unix_ms) or None,
                "pushed_generation": d.pushed_generation,
                "pushed_at": _when(d.pushed_unix_ms) or None,
                "push_result": pb.PushResult.Name(d.push_result)
                .removeprefix("PUSH_RESULT_")
                .lower(),
            }
            for d in r.devices
        ]
        print(json.dumps(rows, indent=2))
        return Exit.OK
    line = "{:<12} {:<10} {:<16} {:<12} {:>5} {:>8}  {:<14} {}"
    print(line.format("DEVICE", "TENANT", "MODEL", "STATE", "GEN", "FETCHED", "PUSH", "USER"))
    for d in r.devices:
        push = pb.PushResult.Name(d.push_result).removeprefix("PUSH_RESULT_").lower()
        print(
            line.format(
                d.device_id,
                d.tenant,
                f"{d.vendor} {d.model}",
                _state(d),
                d.generation,
                d.fetched_generation if d.fetched_unix_ms else "-",
                push if d.pushed_unix_ms else "-",
                d.user or "-",
            )
        )
    return Exit.OK


async def provision_resync(args: argparse.Namespace, settings: CliSettings) -> Exit:
    service = rpc.provision(settings)
    async with rpc.channel(service) as ch:
        r = await provision_pb2_grpc.ProvisionServiceStub(ch).Resync(
            pb.ResyncRequest(device_id=args.device),
            timeout=service.timeout,
        )
    outcome = pb.PushResult.Name(r.result).removeprefix("PUSH_RESULT_").lower()
    print(f"check-sync to {args.device}: {outcome}")
    return Exit.OK if r.result == pb.PUSH_RESULT_DELIVERED else Exit.REFUSED
