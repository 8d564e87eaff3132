"""A desk phone written in Python for the security tests: SIP over UDP, TCP
or TLS to the edge, digest with qop=auth. Every request is built here and
every answer read here, so a test can replay, forge or alter exactly what
it needs (and test TLS, which the packaged sipp cannot)."""

import hashlib
import re
import secrets
import socket
import ssl
import time
from pathlib import Path
from typing import Literal, Self

from services.sip.message import (
    SipMessage,
    SipParseError,
    new_branch,
    new_tag,
    parse,
    response_to,
    uri_of,
)

Transport = Literal["udp", "tcp", "tls"]
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def challenge_params(header: str) -> dict[str, str]:
    """``Digest realm="x", nonce="y", qop="auth"`` as a dict."""
    return {k.lower(): quoted or bare for k, quoted, bare in _CHALLENGE_PARAM.findall(header)}


def digest_credentials(
    challenge: str, method: str, uri: str, user: str, password: str, nc: int = 1
) -> str:
    """The Authorization value answering ``challenge`` (RFC 2617, MD5,
    qop=auth when offered)."""
    p = challenge_params(challenge)
    ha1 = _md5(f"{user}:{p['realm']}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    fields = f'username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}"'
    if "auth" in p.get("qop", "").split(","):
        cnonce = secrets.token_hex(8)
        response = _md5(f"{ha1}:{p['nonce']}:{nc:08x}:{cnonce}:auth:{ha2}")
        fields += f', qop=auth, nc={nc:08x}, cnonce="{cnonce}"'
    else:
        response = _md5(f"{ha1}:{p['nonce']}:{ha2}")
    return f'Digest {fields}, response="{response}", algorithm=MD5'


class SipPhone:
    """One phone: a socket to the edge (a connection for TCP/TLS) from
    ``local_ip``; requests it receives (an incoming call) wait in
    ``inbox``."""

    def __init__(
        self,
        edge: tuple[str, int],
        device: str,
        password: str,
        *,
        domain: str = "hotdesk.local",
        transport: Transport = "udp",
        local_ip: str = "127.0.0.1",
        ca: Path | None = None,
    ) -> None:
        self.edge = edge
        self.device = device
        self.password = password
        self.domain = domain
        self.transport = transport
        self.inbox: list[SipMessage] = []
        self._buffer = b""
        self._cseq = 0
        self.call_id = f"{secrets.token_hex(8)}@{local_ip}"
        self.tag = new_tag()
        if transport == "udp":
            self._sock: socket.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.bind((local_ip, 0))
        else:
            raw = socket.create_connection(edge, timeout=5, source_address=(local_ip, 0))
            if transport == "tls":
                context = ssl.create_default_context(cafile=str(ca) if ca else None)
                raw = context.wrap_socket(raw, server_hostname=edge[0])
            self._sock = raw
        self.local: tuple[str, int] = self._sock.getsockname()[:2]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    @property
    def tls_version(self) -> str | None:
        return self._sock.version() if isinstance(self._sock, ssl.SSLSocket) else None

    @property
    def contact(self) -> str:
        host, port = self.local
        return f"<sip:{self.device}@{host}:{port};transport={self.transport}>"

    # -- building -----------------------------------------------------

    def request(
        self,
        method: str,
        uri: str,
        *,
        to: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: str = "",
        call_id: str | None = None,
        to_tag: str = "",
    ) -> SipMessage:
        self._cseq += 1
        host, port = self.local
        to_value = f"<{to or uri}>" + (f";tag={to_tag}" if to_tag else "")
        message = SipMessage(
            f"{method} {uri} SIP/2.0",
            [
                (
                    "via",
                    f"SIP/2.0/{self.transport.upper()} {host}:{port};rport;branch={new_branch()}",
                ),
                ("max-forwards", "70"),
                ("from", f"<sip:{self.device}@{self.domain}>;tag={self.tag}"),
                ("to", to_value),
                ("call-id", call_id or self.call_id),
                ("cseq", f"{self._cseq} {method}"),
                ("contact", self.contact),
                ("user-agent", "hotdesk-edge test phone"),
                *(headers or []),
            ],
            body.encode(),
        )
        if body:
            message.headers.append(("content-type", "application/sdp"))
        return message

    def authorized(self, request: SipMessage, challenge: SipMessage) -> SipMessage:
        """``request`` again (new branch and CSeq) with credentials answering
        the 401/407 ``challenge``."""
        proxy = challenge.status == 407
        header = challenge["proxy-authenticate" if proxy else "www-authenticate"]
        self._cseq += 1
        headers = [
            (name, value)
            for name, value in request.headers
            if name not in ("authorization", "proxy-authorization")
        ]
        for i, (name, value) in enumerate(headers):
            if name == "via":
                headers[i] = (name, re.sub(r"branch=[^;]+", f"branch={new_branch()}", value))
            elif name == "cseq":
                headers[i] = (name, f"{self._cseq} {request.method}")
        credentials = digest_credentials(
            header, request.method, request.request_uri, self.device, self.password
        )
        headers.append(("proxy-authorization" if proxy else "authorization", credentials))
        return SipMessage(request.start_line, headers, request.body)

    # -- the wire -----------------------------------------------------

    def send(self, message: SipMessage | bytes) -> None:
        data = message if isinstance(message, bytes) else message.to_bytes()
        if self.transport == "udp":
            self._sock.sendto(data, self.edge)
        else:
            self._sock.sendall(data)

    def receive(self, timeout: float = 5.0) -> SipMessage:
        """The next message from the edge (TimeoutError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._take()
            if message is not None:
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"nothing from the edge within {timeout} s")
            self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(65535)
            except TimeoutError:
                raise TimeoutError(f"nothing from the edge within {timeout} s") from None
            if not data:
                raise ConnectionError("the edge closed the connection")
            self._buffer += data

    def _take(self) -> SipMessage | None:
        """One whole message from the buffer (stream framing by
        Content-Length; CRLF keepalives skipped)."""
        self._buffer = self._buffer.lstrip(b"\r\n")
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self._buffer[:end].decode(errors="replace")
        match = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        length = int(match.group(1)) if match else 0
        total = end + 4 + length
        if len(self._buffer) < total:
            return None
        data, self._buffer = self._buffer[:total], self._buffer[total:]
        try:
            return parse(data)
        except SipParseError:
            return None

    def transaction(self, request: SipMessage, timeout: float = 5.0) -> SipMessage:
        """Send ``request``; its final answer (requests the edge sends
        meanwhile go to ``inbox``)."""
        self.send(request)
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.0, deadline - time.monotonic()))
            if message.is_request:
                self.inbox.append(message)
            elif message.branch == request.branch and message.status >= 200:
                if message.status >= 300 and request.method == "INVITE":
                    self.send(self.ack(request, message))
                return message

    def authenticated(self, request: SipMessage, timeout: float = 5.0) -> SipMessage:
        """``request``, answering one challenge; the final answer. The
        request that carried the credentials is ``last_sent``."""
        answer = self.transaction(request, timeout)
        self.last_sent = request
        if answer.status in (401, 407):
            self.last_sent = self.authorized(request, answer)
            answer = self.transaction(self.last_sent, timeout)
        return answer

    def ack(self, invite: SipMessage, answer: SipMessage) -> SipMessage:
        """The ACK of a non-2xx answer: same branch as the INVITE (RFC 3261
        17.1.1.3)."""
        headers = [
            (n, v) for n, v in invite.headers if n in ("via", "from", "call-id", "max-forwards")
        ]
        headers.append(("to", answer["to"]))
        headers.append(("cseq", f"{invite.cseq[0]} ACK"))
        headers.extend((n, v) for n, v in invite.headers if n == "route")
        return SipMessage(f"ACK {invite.request_uri} SIP/2.0", headers)

    def register(self, expires: int = 300) -> SipMessage:
        request = self.request(
            "REGISTER",
            f"sip:{self.domain}",
            to=f"sip:{self.device}@{self.domain}",
            headers=[("expires", str(expires))],
        )
        return self.authenticated(request)

    def respond(self, request: SipMessage, status: int, reason: str) -> None:
        """Answer a request the edge sent this phone."""
        answer = response_to(request, status, reason, self.tag)
        answer.headers.append(("contact", self.contact))
        self.send(answer)

    def in_dialog(
        self,
        method: str,
        invite: SipMessage,
        answer: SipMessage,
        headers: list[tuple[str, str]] | None = None,
    ) -> SipMessage:
        """A request inside the dialog ``answer`` (a 2xx to ``invite``)
        set up: to its Contact, along its Record-Route (RFC 3261 12.2.1.1).
        An ACK takes the INVITE's CSeq."""
        if method == "ACK":
            cseq = invite.cseq[0]
        else:
            self._cseq += 1
            cseq = self._cseq
        host, port = self.local
        route = [("route", value) for value in reversed(answer.get_all("record-route"))]
        return SipMessage(
            f"{method} {uri_of(answer['contact'])} SIP/2.0",
            [
                (
                    "via",
                    f"SIP/2.0/{self.transport.upper()} {host}:{port};rport;branch={new_branch()}",
                ),
                ("max-forwards", "70"),
                *route,
                ("from", invite["from"]),
                ("to", answer["to"]),
                ("call-id", invite.call_id),
                ("cseq", f"{cseq} {method}"),
                ("contact", self.contact),
                *(headers or []),
            ],
        )

    def wait_for_request(self, method: str, timeout: float = 5.0) -> SipMessage:
        """The next request of ``method`` the edge sends this phone."""
        deadline = time.monotonic() + timeout
        while True:
            for i, message in enumerate(self.inbox):
                if message.method == method:
                    return self.inbox.pop(i)
            message = self.receive(max(0.0, deadline - time.monotonic()))
            if message.is_request:
                self.inbox.append(message)
