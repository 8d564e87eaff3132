"""PIN work for one import: is the file's PIN the stored one, and new
hashes, with argon2 off the event loop.

An unchanged PIN is recognised by its keyed digest when the import has a
digest key and the stored digest was written with the stored hash
(``services.directory.digest``); otherwise by verifying the stored hash
against the file's PIN. Verifying and hashing cost ~50-100 ms each at the
default cost and hold the hash's memory (64 MiB) while they run: they run
in worker threads, at most ``concurrency`` at once. Results are kept for the
import, so that an import retried after a concurrent change does not pay
for them again.
"""

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from services.auth.pins import PinHasher
from services.directory.digest import PinDigester

T = TypeVar("T")


@dataclass(frozen=True)
class PinCheck:
    """Whether a file's PIN is the stored one; for an unchanged PIN whose
    stored digest is missing or stale, the digest to store ("" if none)."""

    unchanged: bool
    digest: str = ""


class PinWork:
    def __init__(
        self, hasher: PinHasher, digester: PinDigester | None = None, concurrency: int = 4
    ) -> None:
        self._hasher = hasher
        self._digester = digester
        self._slots = asyncio.Semaphore(concurrency)
        self._verified: dict[tuple[str, str], bool] = {}
        self._hashed: dict[tuple[str, str], asyncio.Future[str]] = {}
        # What this import's checks took: argon2 verifications run, and
        # PINs found unchanged by their digest alone.
        self.verifies = 0
        self.digest_matches = 0

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        async with self._slots:
            return await asyncio.to_thread(work, *args)

    async def _matches(self, pin_hash: str, pin: str) -> bool:
        key = (pin_hash, pin)
        if key not in self._verified:
            self.verifies += 1
            self._verified[key] = await self._run(self._hasher.verify, pin_hash, pin)
        return self._verified[key]

    def digest(self, tenant: str, extension: str, pin: str, pin_hash: str) -> str:
        """The digest to store beside ``pin_hash`` ("" without a key)."""
        if self._digester is None:
            return ""
        return self._digester.digest(tenant, extension, pin, pin_hash)

    async def check(
        self,
        tenant: str,
        extension: str,
        pin: str,
        pin_hash: str | None,
        stored_digest: str | None,
    ) -> PinCheck:
        """Whether the stored hash (None: no PIN stored) is of ``pin``."""
        if pin_hash is None:
            return PinCheck(unchanged=False)
        digest = self.digest(tenant, extension, pin, pin_hash)
        if digest and hmac.compare_digest(digest.encode(), (stored_digest or "").encode()):
            self.digest_matches += 1
            return PinCheck(unchanged=True)
        if not await self._matches(pin_hash, pin):
            return PinCheck(unchanged=False)
        return PinCheck(unchanged=True, digest=digest)

    async def hash_for(self, owner: str, pin: str) -> str:
        """A new salted hash of ``owner``'s PIN (the same one again if asked
        twice in this import): ``Plan.pin_owner``, a user (whose equal PINs
        must not show as equal hashes) or a tenant with a company PIN."""
        key = (owner, pin)
        if key not in self._hashed:  # one task, however many ask at once
            self._hashed[key] = asyncio.ensure_future(self._run(self._hasher.hash, pin))
        return await self._hashed[key]
