"""Talking to the voice menu straight, from 127.0.0.1 (inside
``menu_trusted_edges``), as the edge would or as an attacker inside the
network could: requests with or without a signed X-Hotdesk-Device, and the
replies that come back."""

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.menu.edge_signature import header_value, load_key


def offer(address: str = "127.0.0.1", port: int = 9, m_line: str = "") -> str:
    return (
        f"v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        + (m_line or f"m=audio {port} RTP/AVP 0 101")
        + "\r\na=rtpmap:101 telephone-event/8000\r\n"
    )


def signed(
    key_file: Path,
    call_id: str,
    *,
    device: str = "hd3001",
    src: str = "127.0.0.1",
    age: int = 0,
) -> str:
    """The header the edge would add (``age`` seconds old)."""
    return header_value(load_key(key_file), device, src, int(time.time()) - age, call_id)


def request(
    sock: socket.socket,
    call_id: str,
    *,
    device_header: str | None,
    body: str = "",
    method: str = "INVITE",
    to_tag: str = "",
    cseq: int = 1,
) -> bytes:
    host, port = sock.getsockname()
    to = "<sip:*45@hotdesk.local>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:*45@hotdesk.local SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        f"From: <sip:hd3001@hotdesk.local>;tag=p\r\nTo: {to}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
        f"Contact: <sip:hd3001@{host}:{port}>\r\n"
        + (f"X-Hotdesk-Device: {device_header}\r\n" if device_header is not None else "")
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
    ).encode()


def new_call_id() -> str:
    return f"sec-{uuid.uuid4().hex}"


@contextmanager
def edge_socket(host: str = "127.0.0.1") -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        yield sock


def replies(sock: socket.socket, within: float) -> list[bytes]:
    """Everything that arrives within ``within`` seconds."""
    out, deadline = [], time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            out.append(sock.recv(65535))
        except TimeoutError:
            break
    return out


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def header(reply: bytes, name: str) -> str:
    for line in reply.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


def final(sock: socket.socket, within: float = 3.0) -> bytes:
    """The first final response (>= 200) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        for reply in replies(sock, min(left, 0.2)):
            if reply.startswith(b"SIP/2.0 ") and status(reply) >= 200:
                return reply
    raise AssertionError("no final response")


def finals_by_call(got: list[bytes]) -> dict[str, int]:
    """Each call's final status among ``got``."""
    out: dict[str, int] = {}
    for reply in got:
        if reply.startswith(b"SIP/2.0 ") and status(reply) >= 200:
            out.setdefault(header(reply, "Call-ID"), status(reply))
    return out


def answered(got: list[bytes]) -> list[bytes]:
    """One 200 per call among ``got`` (the menu repeats it until the ACK)."""
    out: dict[str, bytes] = {}
    for reply in got:
        if reply.startswith(b"SIP/2.0 200"):
            out.setdefault(header(reply, "Call-ID"), reply)
    return list(out.values())


def hang_up(sock: socket.socket, menu: tuple[str, int], answered: list[bytes]) -> None:
    """BYE every call whose 200 is in ``answered``."""
    for reply in answered:
        tag = header(reply, "To").split("tag=", 1)[1]
        call_id = header(reply, "Call-ID")
        sock.sendto(
            request(sock, call_id, device_header=None, method="BYE", to_tag=tag, cseq=2), menu
        )
