"""Which phone is asking, and whether the requested file is its own.

A file name that carries a MAC (``mac_in_path``) is one device's file: it is
answered only to that device's digest credentials, and nothing is looked up
before they are checked (the MAC is never looked up at all), so no answer
tells a known MAC from an unknown one. Once the credentials name a device,
``identify_device`` checks the rest: the vendor's file name, the device's
MAC, the vendor's User-Agent of the device's model, with the same MAC when
the vendor sends one. File names without a MAC (``identify_common``) carry
nothing secret and need no credentials. Any mismatch is a refusal with a
reason (for logs and metrics, never for the answer), so that a phone never
receives another device's file.

What a file name and a User-Agent say depends on nothing else, so those
answers are remembered (``_REMEMBERED`` of each, the least recently used
go): a phone asking again costs no parsing. The device's side of the checks
is made on every request."""

from dataclasses import dataclass
from functools import lru_cache

from services.provision.devices import DeviceRecord
from services.provision.vendors import VENDORS, identify_path
from services.provision.vendors.base import FileRequest, UserAgent, Vendor


@dataclass(frozen=True)
class Identified:
    vendor: Vendor
    request: FileRequest
    device: DeviceRecord | None  # set for device files (the ones with secrets)


@dataclass(frozen=True)
class Refused:
    reason: str  # a metric label: unknown_file, foreign_agent, other_mac, ...
    detail: str  # for the log line


# As many as the render cache keeps files by default: one per phone.
_REMEMBERED = 20_000


@lru_cache(maxsize=_REMEMBERED)
def mac_in_path(filename: str) -> str | None:
    """The MAC any vendor reads in ``filename`` (whatever the User-Agent)."""
    for each in VENDORS.values():
        request = each.parse_path(filename)
        if request is not None and request.mac is not None:
            return request.mac
    return None


@lru_cache(maxsize=_REMEMBERED)
def labels(filename: str, user_agent: str) -> tuple[str, str]:
    """The vendor and file kind a file request names, for logs and metrics
    only ("" and "device" when no vendor claims it)."""
    claimed = identify_path(filename, user_agent)
    return (claimed[0].name, claimed[1].kind) if claimed else ("", "device")


@lru_cache(maxsize=_REMEMBERED)
def _vendor_file(filename: str, user_agent: str) -> tuple[Vendor, FileRequest, UserAgent] | Refused:
    found = identify_path(filename, user_agent)
    if found is None:
        return Refused("unknown_file", f"no vendor serves {filename!r}")
    vendor, request = found
    agent = vendor.parse_user_agent(user_agent)
    if agent is None:
        return Refused("foreign_agent", f"User-Agent {user_agent!r} is not a {vendor.name} phone")
    return vendor, request, agent


def identify_common(filename: str, user_agent: str) -> Identified | Refused:
    """A file named for no MAC (served to any phone of its vendor)."""
    found = _vendor_file(filename, user_agent)
    if isinstance(found, Refused):
        return found
    vendor, request, _ = found
    return Identified(vendor, request, None)


def identify_device(filename: str, user_agent: str, device: DeviceRecord) -> Identified | Refused:
    """A file named for a MAC, asked for with ``device``'s credentials."""
    found = _vendor_file(filename, user_agent)
    if isinstance(found, Refused):
        return found
    vendor, request, agent = found
    if request.mac != device.mac:
        return Refused("other_mac", f"{filename} is not the file of {device.id} ({device.mac})")
    if device.vendor != vendor.name:
        return Refused("vendor_mismatch", f"{device.id} is a {device.vendor} phone")
    if agent.model.lower() != device.model.lower():
        return Refused(
            "model_mismatch", f"{device.id} is a {device.model}, the phone says {agent.model}"
        )
    if agent.mac is not None and agent.mac != device.mac:
        return Refused(
            "mac_mismatch", f"{device.id} has MAC {device.mac}, the phone says {agent.mac}"
        )
    return Identified(vendor, request, device if request.kind == "device" else None)
