"""Signed phone-screen URLs. The Login/Logout keys in a device's file point
at ``/screen/<device>/<token>/...``. The token names the device's binding
generation when the file was made and when the link expires, signed with the
service key::

    <generation>.<expiry>.<signature>

(expiry: unix seconds in hex; signature: the first 32 hex digits of
HMAC-SHA256(key, "screen|<device>|<generation>|<expiry>")).

So only whoever holds the device's (digest-protected) file can act for that
device, any replica can check the link, and a link dies with the next login
or logout at the device (a new generation) or at its expiry, whichever
comes first. Every file a phone fetches carries fresh links."""

import hashlib
import hmac
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"(?P<gen>\d{1,18})\.(?P<exp>[0-9a-f]{1,12})\.(?P<sig>[0-9a-f]{32})")


@dataclass(frozen=True)
class ScreenToken:
    """What a genuine token says: the generation it was made at, and until
    when (unix seconds) it is valid."""

    generation: int
    expires_s: int


class ScreenLinks:
    def __init__(self, base_url: str, key: bytes, lifetime_seconds: int) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._lifetime = lifetime_seconds

    def _sign(self, device_id: str, generation: int, expires_hex: str) -> str:
        text = f"screen|{device_id}|{generation}|{expires_hex}".encode()
        return hmac.new(self._key, text, hashlib.sha256).hexdigest()[:32]

    def token(self, device_id: str, generation: int, now_ms: int) -> str:
        expires = format(now_ms // 1000 + self._lifetime, "x")
        return f"{generation}.{expires}.{self._sign(device_id, generation, expires)}"

    def verify(self, device_id: str, token: str) -> ScreenToken | None:
        """The token's claims if this service signed it for ``device_id``
        (expired or not: the caller compares them with the device's state)."""
        found = _TOKEN.fullmatch(token)
        if found is None:
            return None
        generation = int(found["gen"])
        expected = self._sign(device_id, generation, found["exp"])
        if not hmac.compare_digest(expected, found["sig"]):
            return None
        return ScreenToken(generation, int(found["exp"], 16))

    def page(self, device_id: str, generation: int, now_ms: int, page: str) -> str:
        token = self.token(device_id, generation, now_ms)
        return f"{self.base_url}/screen/{device_id}/{token}/{page}"

    def login_logout(self, device_id: str, generation: int, now_ms: int) -> tuple[str, str]:
        return (
            self.page(device_id, generation, now_ms, "login"),
            self.page(device_id, generation, now_ms, "logout"),
        )
