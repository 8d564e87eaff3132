"""Secrets that must be read back (a device's SIP secret, which its phone
file carries) are kept in Redis only sealed: AES-256-GCM under a key from a
file. What a sealed value belongs to is its associated data, so a copy
moved to another device's hash does not open.

The key file holds 64 hex characters (32 random bytes); `make run` and the
tests make one, Kubernetes mounts the Secret ``hotdesk-secrets-key``.
"""

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kernel.errors import MissingConfiguration

_VERSION = "v1:"
_NONCE = 12


class SealError(ValueError):
    """A sealed value that does not open with this key and context."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secrets key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path: Path | None, who: str) -> "SecretBox":
        if path is None:
            raise MissingConfiguration(f"{who}: no secrets key file (SECRETS_KEY_FILE) is set")
        try:
            return cls(bytes.fromhex(path.read_text().strip()))
        except OSError as exc:
            raise MissingConfiguration(f"{who}: cannot read the secrets key: {exc}") from None
        except ValueError:
            raise MissingConfiguration(
                f"{who}: {path}: the secrets key must be 64 hex characters"
            ) from None

    @staticmethod
    def new_key_file(path: Path) -> None:
        """Write a fresh key (mode 600) unless the file exists."""
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex())

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, context: str) -> str:
        if not sealed.startswith(_VERSION):
            raise SealError("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(sealed.removeprefix(_VERSION))
            opened = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise SealError("does not open with this key for this context") from exc
        return opened.decode()


def sip_secret_context(domain: str, device_id: str) -> str:
    """What a device's sealed SIP secret is bound to."""
    return f"sip-secret:{domain}:{device_id}"
