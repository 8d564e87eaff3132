"""SIP messages (RFC 3261 §7) as the voice menu reads and writes them:
a start line, headers in order (names case-insensitive, compact forms
expanded), a body sized by Content-Length."""

import secrets
from dataclasses import dataclass, field

_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "e": "content-encoding",
    "k": "supported",
    "s": "subject",
    "o": "event",
}
_CANONICAL = {
    "via": "Via",
    "from": "From",
    "to": "To",
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "contact": "Contact",
    "content-length": "Content-Length",
    "content-type": "Content-Type",
    "record-route": "Record-Route",
    "max-forwards": "Max-Forwards",
}


class SipParseError(ValueError):
    """Not a SIP message this module can read."""


def _name(raw: str) -> str:
    lower = raw.strip().lower()
    return _COMPACT.get(lower, lower)


@dataclass
class SipMessage:
    start_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lowercase name, value)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return not self.start_line.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        """The request's method, or the CSeq method of a response."""
        if self.is_request:
            return self.start_line.split(" ", 1)[0]
        return self.cseq[1]

    @property
    def request_uri(self) -> str:
        return self.start_line.split(" ")[1]

    @property
    def status(self) -> int:
        return int(self.start_line.split(" ")[1])

    def get(self, name: str) -> str | None:
        wanted = _name(name)
        return next((v for n, v in self.headers if n == wanted), None)

    def get_all(self, name: str) -> list[str]:
        wanted = _name(name)
        values = [v for n, v in self.headers if n == wanted]
        if wanted in ("via", "record-route", "route"):
            # Comma-separated lists count as several headers.
            return [part.strip() for v in values for part in _split_commas(v)]
        return values

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    @property
    def call_id(self) -> str:
        return self["call-id"]

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = self["cseq"].partition(" ")
        return int(number), method.strip()

    @property
    def branch(self) -> str:
        """The top Via's branch."""
        return param(self.get_all("via")[0], "branch") if self.get("via") else ""

    def to_bytes(self) -> bytes:
        lines = [self.start_line]
        lines += [
            f"{_CANONICAL.get(n, n.title())}: {v}" for n, v in self.headers if n != "content-length"
        ]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def _split_commas(value: str) -> list[str]:
    """Split on commas outside <...> and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif ch == "," and depth == 0 and not quoted:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p for p in parts if p.strip()]


def param(header: str, name: str) -> str:
    """A ``;name=value`` parameter of a header value ("" if absent)."""
    for part in header.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip()
    return ""


def uri_of(header: str) -> str:
    """The URI of a name-addr (``"A" <sip:a@b>;tag=1``) or addr-spec value."""
    if "<" in header:
        return header.split("<", 1)[1].split(">", 1)[0]
    return header.split(";", 1)[0].strip()


def parse(data: bytes) -> SipMessage:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipParseError("no blank line after the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("headers are not UTF-8") from exc
    lines = text.split("\r\n")
    start = lines[0].strip()
    parts = start.split(" ")
    is_response = start.startswith("SIP/2.0 ") and len(parts) >= 2 and parts[1].isdigit()
    if not is_response and (len(parts) != 3 or parts[2] != "SIP/2.0"):
        raise SipParseError(f"bad start line {start!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise SipParseError(f"bad header line {line!r}")
        headers.append((_name(name), value.strip()))
    message = SipMessage(start, headers)
    length = message.get("content-length")
    try:
        size = int(length) if length is not None else len(rest)
    except ValueError as exc:
        raise SipParseError(f"bad Content-Length {length!r}") from exc
    if size > len(rest):
        raise SipParseError("body shorter than Content-Length")
    message.body = rest[:size]
    for required in ("via", "from", "to", "call-id", "cseq"):
        if message.get(required) is None:
            raise SipParseError(f"no {required} header")
    try:
        message.cseq  # noqa: B018 - validates
    except ValueError as exc:
        raise SipParseError("bad CSeq") from exc
    return message


def response_to(request: SipMessage, status: int, reason: str, to_tag: str = "") -> SipMessage:
    """A response carrying the request's Via, From, To (with ``to_tag`` if it
    has none), Call-ID, CSeq and Record-Route."""
    headers = [(n, v) for n, v in request.headers if n in ("via", "from", "call-id", "cseq")]
    to = request["to"]
    if to_tag and not param(to, "tag"):
        to = f"{to};tag={to_tag}"
    headers.insert(2, ("to", to))
    if 200 <= status < 300 and request.method == "INVITE":
        headers += [(n, v) for n, v in request.headers if n == "record-route"]
    return SipMessage(f"SIP/2.0 {status} {reason}", headers)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(10)
