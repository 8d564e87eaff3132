"""Which phone is asking, as a small pipeline: the file name picks the vendor
and (for device files) the MAC; the MAC picks the device; the User-Agent
must be that vendor's phone, of the device's model, with the same MAC when
the vendor sends one. Any mismatch is a refusal with a reason, so that a
phone never receives another device's file."""

from dataclasses import dataclass

from services.provision.devices import DeviceDirectory, DeviceRecord
from services.provision.vendors import identify_path
from services.provision.vendors.base import FileRequest, Vendor


@dataclass(frozen=True)
class Identified:
    vendor: Vendor
    request: FileRequest
    device: DeviceRecord | None  # set for device files (the ones with secrets)


@dataclass(frozen=True)
class Refused:
    reason: str  # a metric label: unknown_file, foreign_agent, unknown_mac, ...
    detail: str  # for the log line


async def identify(
    filename: str, user_agent: str, devices: DeviceDirectory, now_ms: int
) -> Identified | Refused:
    found = identify_path(filename, user_agent)
    if found is None:
        return Refused("unknown_file", f"no vendor serves {filename!r}")
    vendor, request = found
    agent = vendor.parse_user_agent(user_agent)
    if agent is None:
        return Refused("foreign_agent", f"User-Agent {user_agent!r} is not a {vendor.name} phone")
    if request.mac is None:
        return Identified(vendor, request, None)
    # A file named for a MAC (even one without secrets) is only for that
    # device, as the vendor's phone of the device's model.
    mac = request.mac
    device_id = await devices.device_of_mac(mac)
    device = await devices.read(device_id, now_ms) if device_id else None
    if device is None:
        return Refused("unknown_mac", f"no device has MAC {mac}")
    if device.vendor != vendor.name:
        return Refused("vendor_mismatch", f"{device.id} is a {device.vendor} phone")
    if agent.model.lower() != device.model.lower():
        return Refused(
            "model_mismatch", f"{device.id} is a {device.model}, the phone says {agent.model}"
        )
    if agent.mac is not None and agent.mac != mac:
        return Refused("mac_mismatch", f"{device.id} has MAC {mac}, the phone says {agent.mac}")
    return Identified(vendor, request, device if request.kind == "device" else None)
