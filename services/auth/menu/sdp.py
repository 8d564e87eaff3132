"""The SDP offer/answer of a menu call (RFC 3264): one audio stream, PCMU or
PCMA, and RFC 4733 telephone-event when the phone offers it."""

from dataclasses import dataclass

CODECS = {0: "PCMU", 8: "PCMA"}


class NoCommonCodec(ValueError):
    pass


@dataclass(frozen=True)
class Offer:
    address: str
    port: int
    codec: int  # payload type 0 (PCMU) or 8 (PCMA)
    event_pt: int | None  # telephone-event payload type, if offered
    direction: str  # sendrecv, sendonly, recvonly, inactive

    @property
    def on_hold(self) -> bool:
        """The phone does not want to hear us (RFC 3264 §8.4; also the old
        c=0.0.0.0 form)."""
        return self.direction in ("sendonly", "inactive") or self.address == "0.0.0.0"


def parse_offer(body: str) -> Offer:
    address, port, formats, direction = "", 0, [], "sendrecv"
    rtpmap: dict[int, str] = {}
    in_audio = False
    for line in body.replace("\r\n", "\n").split("\n"):
        kind, _, value = line.strip().partition("=")
        if kind == "m":
            fields = value.split()
            in_audio = bool(fields) and fields[0] == "audio" and not port
            if in_audio:
                port = int(fields[1])
                formats = [int(f) for f in fields[3:] if f.isdigit()]
        elif kind == "c" and (in_audio or not address):
            address = value.split()[-1].split("/")[0]
        elif kind == "a" and in_audio:
            if value.startswith("rtpmap:"):
                pt, _, name = value[len("rtpmap:") :].partition(" ")
                if pt.isdigit():
                    rtpmap[int(pt)] = name.split("/")[0].lower()
            elif value in ("sendrecv", "sendonly", "recvonly", "inactive"):
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
