"""A real rtpengine (userspace forwarding) on loopback: its ng control port
and the media ports it relays on."""

import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from services.devstack.stack import media_relay
from tests.support.kamailio import free_udp_port

# Media ports: below Linux's ephemeral range, away from other tests' ports.
MEDIA_PORTS = (24000, 24999)


class RtpEngine:
    def __init__(self, log_file: Path) -> None:
        if shutil.which("rtpengine") is None:
            raise RuntimeError("rtpengine is not installed; run `make bootstrap`")
        self.ng_port = free_udp_port()
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def ng_socket(self) -> str:
        return f"udp:127.0.0.1:{self.ng_port}"

    def start(self) -> None:
        argv = media_relay("127.0.0.1", self.ng_port, MEDIA_PORTS).argv
        with self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self._answers_ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rtpengine did not start: {self.log_file.read_text()[-2000:]}")
            time.sleep(0.1)

    def _answers_ping(self) -> bool:
        try:
            return self.command({"command": "ping"}).get("result") == "pong"
        except OSError:
            return False

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """One ng command (a cookie, then a bencoded dictionary) and its
        answer."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.5)
            # A cookie of its own: rtpengine answers a known one from its cache.
            cookie = secrets.token_hex(8).encode()
            sock.sendto(cookie + b" " + _encode(request), ("127.0.0.1", self.ng_port))
            reply = sock.recv(65535)
        answer, _ = _decode(reply.split(b" ", 1)[1])
        assert isinstance(answer, dict)
        return answer

    def packets_by_tag(self) -> dict[str, int]:
        """Of every call it relays now: RTP packets it received from each
        side (by the side's SIP tag)."""
        counts: dict[str, int] = {}
        for call_id in self.command({"command": "list"}).get("calls", []):
            tags = self.command({"command": "query", "call-id": call_id}).get("tags", {})
            for tag, side in tags.items():
                counts[tag] = sum(
                    int(stream.get("stats", {}).get("packets", 0))
                    for media in side.get("medias", [])
                    for stream in media.get("streams", [])
                )
        return counts

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


def _encode(value: Any) -> bytes:
    if isinstance(value, dict):
        return b"d" + b"".join(_encode(k) + _encode(v) for k, v in sorted(value.items())) + b"e"
    if isinstance(value, list):
        return b"l" + b"".join(_encode(v) for v in value) + b"e"
    if isinstance(value, int):
        return b"i%de" % value
    data = value.encode() if isinstance(value, str) else value
    return b"%d:%s" % (len(data), data)


def _decode(data: bytes) -> tuple[Any, bytes]:
    """One bencoded value (byte strings as text) and what follows it."""
    head = data[:1]
    if head == b"i":
        end = data.index(b"e")
        return int(data[1:end]), data[end + 1 :]
    if head in (b"l", b"d"):
        items: list[Any] = []
        rest = data[1:]
        while rest[:1] != b"e":
            item, rest = _decode(rest)
            items.append(item)
        if head == b"l":
            return items, rest[1:]
        return dict(zip(items[::2], items[1::2], strict=True)), rest[1:]
    colon = data.index(b":")
    size = int(data[:colon])
    start = colon + 1
    return data[start : start + size].decode(errors="replace"), data[start + size :]
