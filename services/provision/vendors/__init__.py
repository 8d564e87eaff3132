"""The phone vendors, by name, and which of them a requested file is for."""

from collections.abc import Mapping
from types import MappingProxyType

from services.provision.vendors.base import FileRequest, Vendor
from services.provision.vendors.polycom import Polycom
from services.provision.vendors.snom import Snom
from services.provision.vendors.yealink import Yealink

VENDORS: Mapping[str, Vendor] = MappingProxyType(
    {each.name: each for each in (Yealink(), Polycom(), Snom())}
)


def vendor(name: str) -> Vendor:
    try:
        return VENDORS[name]
    except KeyError:
        raise KeyError(f"no phone vendor {name!r} (known: {', '.join(sorted(VENDORS))})") from None


def identify_path(
    filename: str, user_agent: str | None = None
) -> tuple[Vendor, FileRequest] | None:
    """The vendor a requested file name belongs to, and what it asks for.

    One name is claimed by two vendors: ``<mac>.cfg`` is a Yealink phone's
    own file and a Polycom phone's master file. The requesting phone's
    ``user_agent`` settles it; without one that names exactly one of the
    claiming vendors, the name is nobody's (None), never a guess.
    """
    claims = [
        (each, request)
        for each in VENDORS.values()
        if (request := each.parse_path(filename)) is not None
    ]
    if len(claims) > 1 and user_agent is not None:
        claims = [claim for claim in claims if claim[0].parse_user_agent(user_agent)]
    return claims[0] if len(claims) == 1 else None
