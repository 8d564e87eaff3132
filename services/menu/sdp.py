"""The SDP offer/answer of a menu call (RFC 3264): one audio stream, PCMU or
PCMA, and RFC 4733 telephone-event when the phone offers it.

The parser never trusts the offer: every malformed line raises ``SdpError``
(nothing else escapes; its message never echoes the offer, as it goes into
a Warning header), and the media address must be an IP literal — a
host name is not an address, and looking it up would block and let a
caller pick any target.
"""

import ipaddress
from dataclasses import dataclass

CODECS = {0: "PCMU", 8: "PCMA"}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


class SdpError(ValueError):
    """The offer cannot be read (SIP: 400 Bad Request)."""


class NoCommonCodec(SdpError):
    """The offer is readable but not acceptable (SIP: 488 Not Acceptable Here)."""


class NotAnAddress(NoCommonCodec):
    """The media address is not an IP literal (488: we never resolve names)."""


@dataclass(frozen=True)
class Offer:
    address: str  # an IP literal
    port: int
    codec: int  # payload type 0 (PCMU) or 8 (PCMA)
    event_pt: int | None  # telephone-event payload type, if offered
    direction: str  # sendrecv, sendonly, recvonly, inactive

    @property
    def on_hold(self) -> bool:
        """The phone does not want to hear us (RFC 3264 §8.4; also the old
        c=0.0.0.0 form)."""
        return self.direction in ("sendonly", "inactive") or self.address == "0.0.0.0"


def _media(value: str) -> tuple[str, int, list[int]]:
    """An ``m=`` line's media, port and payload types."""
    fields = value.split()
    if len(fields) < 4:
        raise SdpError("malformed m= line")
    media, port, _proto, *formats = fields
    if not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise SdpError("malformed media port")
    return media, int(port), [int(f) for f in formats if f.isascii() and f.isdigit()]


def _connection(value: str) -> str:
    """A ``c=`` line's address (``IN IP4 192.0.2.1[/ttl]``), an IP literal."""
    fields = value.split()
    if len(fields) != 3 or fields[0] != "IN" or fields[1] not in ("IP4", "IP6"):
        raise SdpError("malformed c= line")
    address = fields[2].split("/", 1)[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise NotAnAddress("the media address must be an IP literal") from None
    if (ip.version == 4) != (fields[1] == "IP4"):
        raise SdpError("the c= address is not of its address type")
    return str(ip)


def parse_offer(body: str) -> Offer:
    """The audio stream of an offer; ``SdpError`` if there is none we can
    use or any line is malformed."""
    address, port, formats, direction = "", 0, [], "sendrecv"
    rtpmap: dict[int, str] = {}
    in_audio = False
    for line in body.replace("\r\n", "\n").split("\n"):
        kind, _, value = line.strip().partition("=")
        if kind == "m":
            media, media_port, media_formats = _media(value)
            # The first audio stream that is not disabled (port 0).
            in_audio = media == "audio" and media_port > 0 and not port
            if in_audio:
                port, formats = media_port, media_formats
        elif kind == "c":
            connection = _connection(value)
            if in_audio or not address:
                address = connection
        elif kind == "a" and in_audio:
            if value.startswith("rtpmap:"):
                pt, _, name = value[len("rtpmap:") :].partition(" ")
                if pt.isascii() and pt.isdigit():
                    rtpmap[int(pt)] = name.split("/")[0].lower()
            elif value in DIRECTIONS:
                direction = value
    if not port or not address:
        raise NoCommonCodec("no audio stream in the offer")
    codec = next((pt for pt in formats if pt in CODECS), None)
    if codec is None:
        raise NoCommonCodec("neither PCMU nor PCMA offered")
    event = next((pt for pt in formats if rtpmap.get(pt) == "telephone-event"), None)
    return Offer(address, port, codec, event, direction)


def answer(offer: Offer, local_ip: str, local_port: int, session: int, version: int) -> str:
    """Our side: the chosen codec, telephone-event if offered, and the
    direction that mirrors the phone's (held: we only listen)."""
    formats = [offer.codec] + ([offer.event_pt] if offer.event_pt is not None else [])
    mirror = {"sendonly": "recvonly", "recvonly": "sendonly"}.get(offer.direction, offer.direction)
    lines = [
        "v=0",
        f"o=hotdesk-menu {session} {version} IN IP4 {local_ip}",
        "s=hotdesk voice menu",
        f"c=IN IP4 {local_ip}",
        "t=0 0",
        f"m=audio {local_port} RTP/AVP {' '.join(map(str, formats))}",
        f"a=rtpmap:{offer.codec} {CODECS[offer.codec]}/8000",
    ]
    if offer.event_pt is not None:
        lines += [
            f"a=rtpmap:{offer.event_pt} telephone-event/8000",
            f"a=fmtp:{offer.event_pt} 0-15",
        ]
    lines += ["a=ptime:20", f"a={mirror}"]
    return "\r\n".join(lines) + "\r\n"
