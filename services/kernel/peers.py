"""Peers: carrier trunks and PBXs (contact centres, voicemail platforms) that
exchange calls with the edge without being desk phones.

Kamailio recognises a peer by the source address and port of a request,
from a list the directory import writes in the permissions module's
address-file format (``address_list``); a peer that registers with digest
credentials is recognised by the address its registration came from. The
binding service reads ``PeerConfig`` to decide what a peer may reach.
"""

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from services.kernel.records import Record
from services.kernel.tenants import NAME, SIP_URI

PEER_NAME = NAME
# A number range: an E.164 prefix (the DIDs it covers start with it).
NUMBER_PREFIX = r"^\+[1-9][0-9]{0,14}$"
# The permissions module's group for every peer address.
PEER_GROUP = 1

_WITH_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<v4>[^:\[\]]+)):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class PeerAddress:
    """A source a peer's requests come from: one address or a network, and
    a port (0: any)."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int

    @classmethod
    def parse(cls, text: str) -> "PeerAddress":
        """``192.0.2.10``, ``192.0.2.0/24``, ``192.0.2.10:5060``,
        ``2001:db8::1``, ``[2001:db8::/48]:5060``; raises ValueError."""
        port = 0
        host = text
        match = _WITH_PORT.match(text)
        if match:
            host = match["v6"] or match["v4"]
            port = int(match["port"])
            if not 0 < port < 65536:
                raise ValueError(f"port {port} out of range in {text!r}")
        try:
            network = ipaddress.ip_network(host, strict=True)
        except ValueError as exc:
            raise ValueError(
                f"{text!r} is not an IP address or network with an optional :port (host bits "
                "zero, IPv6 as [address]:port)"
            ) from exc
        return cls(network, port)

    def __str__(self) -> str:
        single = self.network.prefixlen == self.network.max_prefixlen
        host = str(self.network.network_address) if single else str(self.network)
        if not self.port:
            return host
        return f"[{host}]:{self.port}" if self.network.version == 6 else f"{host}:{self.port}"

    def overlaps(self, other: "PeerAddress") -> bool:
        """Whether one request could match both (then the first would win)."""
        same_port = not self.port or not other.port or self.port == other.port
        return (
            same_port
            and self.network.version == other.network.version
            and self.network.overlaps(other.network)
        )


class PeerConfig(Record):
    """A peer as Redis stores it (``hd:{dir}:peers``); no secrets."""

    name: str = Field(pattern=PEER_NAME)
    # The tenants whose users it may call (inbound) and which route calls
    # out through it (outbound).
    tenants: tuple[str, ...] = Field(min_length=1)
    direction: Literal["inbound", "outbound", "both"] = "both"
    addresses: tuple[str, ...] = ()
    # Where calls to it go; unset for a peer that registers (its contact).
    destination: str | None = Field(default=None, pattern=SIP_URI)
    # E.164 prefixes of the DIDs it may deliver calls to; empty: any DID of
    # its tenants. Extensions are not ranges: a PBX queue rings users by
    # extension in the tenant the request names.
    numbers: tuple[str, ...] = ()
    # The SIP user name it registers with (in its first tenant's domain).
    username: str | None = None

    @property
    def inbound(self) -> bool:
        return self.direction in ("inbound", "both")

    @property
    def outbound(self) -> bool:
        return self.direction in ("outbound", "both")

    def may_deliver(self, number: str) -> bool:
        """Whether a call from this peer may be for DID ``number``."""
        return not self.numbers or number.startswith(self.numbers)


def address_list(peers: list[PeerConfig]) -> str:
    """Every peer address in Kamailio's permissions address-file format:
    ``<group> <address> <mask> <port> <tag>``, the tag being the peer's name
    (what ``allow_source_address`` puts into the peer tag AVP)."""
    lines = ["# hotdesk-edge peers, written by the directory import"]
    for peer in sorted(peers, key=lambda p: p.name):
        for text in peer.addresses:
            a = PeerAddress.parse(text)
            net = a.network
            lines.append(f"{PEER_GROUP} {net.network_address} {net.prefixlen} {a.port} {peer.name}")
    return "\n".join(lines) + "\n"


def route_targets(
    names: Sequence[str], peers: Mapping[str, PeerConfig], domains: Mapping[str, str], default: str
) -> str:
    """Kamailio's route string for the peers named (in order): each peer's
    destination, or ``aor:sip:<username>@<domain of its first tenant>`` for
    one that registers (``domains``: tenant id -> SIP domain); ``default``
    ("pstn", "emergency": the edge's own gateways) when none is usable."""
    out = []
    for name in names:
        peer = peers.get(name)
        if peer is None:
            continue
        if peer.destination:
            out.append(peer.destination)
        elif peer.username and peer.tenants[0] in domains:
            out.append(f"aor:sip:{peer.username}@{domains[peer.tenants[0]]}")
    return " ".join(out) or default
