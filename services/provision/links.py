"""Signed phone-screen URLs. The Login/Logout keys in a device's file point
at ``/screen/<device>/<token>/...``; the token is an HMAC of the device id,
so only whoever holds the device's (digest-protected) file can act for that
device, and any replica can check it."""

import hashlib
import hmac


class ScreenLinks:
    def __init__(self, base_url: str, key: bytes) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key

    def token(self, device_id: str) -> str:
        return hmac.new(self._key, b"screen:" + device_id.encode(), hashlib.sha256).hexdigest()[:32]

    def valid(self, device_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(device_id), token)

    def page(self, device_id: str, page: str) -> str:
        return f"{self.base_url}/screen/{device_id}/{self.token(device_id)}/{page}"

    def login_logout(self, device_id: str) -> tuple[str, str]:
        return self.page(device_id, "login"), self.page(device_id, "logout")
