"""The device the edge names in ``X-Hotdesk-Device``, and the proof that the
edge named it.

Kamailio adds ``X-Hotdesk-Device: <device>;src=<phone IP>;ts=<unix s>;sig=<hex>``
with ``sig = HMAC-SHA256(key, "<device>|<src>|<ts>|<Call-ID>")`` in lowercase
hex. The key is the key file's 64 hex characters, used as text (both sides
read the file at start). A header is believed only when its signature is
right and not older (or newer) than the allowed age: being inside the
trusted network is not enough to name a device.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.kernel.errors import MissingConfiguration

HEADER = "x-hotdesk-device"
_KEY = re.compile(r"[0-9a-fA-F]{64}")
_SIG = re.compile(r"[0-9a-f]{64}")
_DEVICE = re.compile(r"[A-Za-z0-9._~+-]{1,128}")


class MenuKeyError(MissingConfiguration):
    """The key file is missing or not 64 hex characters."""


class SignatureError(ValueError):
    """The header does not prove that the edge named this device.

    ``reason`` is a short label for metrics and logs; ``str()`` is the SIP
    reason phrase."""

    def __init__(self, reason: str, phrase: str) -> None:
        super().__init__(phrase)
        self.reason = reason


@dataclass(frozen=True)
class SignedDevice:
    device: str
    src: str  # the phone's signalling source IP, as the edge saw it
    ts: int


def load_key(path: Path) -> bytes:
    """The key as HMAC takes it: the file's 64 hex characters (surrounding
    whitespace ignored)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise MenuKeyError(f"cannot read the menu key file {path}: {exc}") from exc
    if not _KEY.fullmatch(text):
        raise MenuKeyError(f"the menu key file {path} must hold 64 hex characters")
    return text.encode("ascii")


def signature(key: bytes, device: str, src: str, ts: int | str, call_id: str) -> str:
    message = f"{device}|{src}|{ts}|{call_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def header_value(key: bytes, device: str, src: str, ts: int, call_id: str) -> str:
    """What the edge writes (the tests play the edge with it)."""
    return f"{device};src={src};ts={ts};sig={signature(key, device, src, ts, call_id)}"


def _parse(value: str) -> tuple[str, dict[str, str]]:
    device, *params = (part.strip() for part in value.split(";"))
    named: dict[str, str] = {}
    for part in params:
        name, eq, param = part.partition("=")
        if not eq or name in named:
            raise SignatureError("malformed", "Malformed X-Hotdesk-Device")
        named[name] = param
    return device, named


class EdgeSignature:
    def __init__(
        self, key: bytes, max_age_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self._max_age = max_age_seconds
        self._clock = clock

    def verify(self, values: list[str], call_id: str) -> SignedDevice:
        """The device the (one) header names, or ``SignatureError``."""
        if not values:
            raise SignatureError("unsigned", "No signed X-Hotdesk-Device")
        if len(values) > 1:
            raise SignatureError("malformed", "More than one X-Hotdesk-Device")
        device, params = _parse(values[0])
        if set(params) != {"src", "ts", "sig"} or not _DEVICE.fullmatch(device):
            raise SignatureError("malformed", "Malformed X-Hotdesk-Device")
        src, ts, sig = params["src"], params["ts"], params["sig"]
        try:
            src = str(ipaddress.ip_address(src))
        except ValueError:
            raise SignatureError("malformed", "Malformed X-Hotdesk-Device") from None
        if not (ts.isascii() and ts.isdigit() and len(ts) <= 12) or not _SIG.fullmatch(sig):
            raise SignatureError("malformed", "Malformed X-Hotdesk-Device")
        expected = signature(self._key, device, params["src"], ts, call_id)
        if not hmac.compare_digest(expected, sig):
            raise SignatureError("bad_signature", "Bad X-Hotdesk-Device signature")
        if abs(self._clock() - int(ts)) > self._max_age:
            raise SignatureError("stale_signature", "Stale X-Hotdesk-Device signature")
        return SignedDevice(device, src, int(ts))
