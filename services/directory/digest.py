"""A keyed digest of a user's PIN, so that re-importing an unchanged file
needs no argon2 work.

A salted argon2id hash cannot be compared with a PIN except by hashing
again (~50-100 ms and 64 MiB each). Beside each hash it writes, the import
stores HMAC-SHA256, under a key from a file, of the user's tenant, extension
and PIN *and of that hash*. The next import computes the same digest from
the file and the stored hash: equal means the PIN is unchanged. Binding the
digest to the hash means a PIN stored by anything else (the auth service's
``SetPin``, its rehash at a new cost, an older version) never matches a
digest written before it: the import then verifies with argon2 as it did
before digests existed, and writes the digest.

The key makes the digest worthless to whoever reads Redis without it (a
4-12 digit PIN behind a plain hash is guessed in a moment): it lives in a
file, never in Redis or in a log. A new key only costs the next import the
argon2 verifications (every digest differs), after which it writes new ones.
"""

import hashlib
import hmac
from pathlib import Path

from services.kernel.errors import MissingConfiguration
from services.kernel.secretbox import SecretBox

_VERSION = "v1:"
_CONTEXT = b"hotdesk pin digest v1"


def _canonical(*parts: str) -> bytes:
    """Each part as its length (4 bytes, big-endian) and its UTF-8 bytes, so
    that no two different tuples encode alike."""
    out = bytearray(_CONTEXT)
    for part in parts:
        raw = part.encode()
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


class PinDigester:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the PIN digest key must be 32 bytes")
        self._key = key

    @classmethod
    def from_file(cls, path: Path, who: str) -> "PinDigester":
        """The key in ``path``: 64 hex characters (32 random bytes)."""
        try:
            return cls(bytes.fromhex(path.read_text().strip()))
        except OSError as exc:
            raise MissingConfiguration(
                f"{who}: cannot read the PIN digest key: {exc.strerror}"
            ) from None
        except ValueError:
            raise MissingConfiguration(
                f"{who}: {path}: the PIN digest key must be 64 hex characters"
            ) from None

    @staticmethod
    def new_key_file(path: Path) -> None:
        """Write a fresh key (mode 600) unless the file exists."""
        SecretBox.new_key_file(path)

    def digest(self, tenant: str, extension: str, pin: str, pin_hash: str) -> str:
        """The digest of ``pin`` for the user, stored beside ``pin_hash``."""
        mac = hmac.new(self._key, _canonical(tenant, extension, pin, pin_hash), hashlib.sha256)
        return _VERSION + mac.hexdigest()

    def __repr__(self) -> str:
        return "PinDigester(key=***)"
