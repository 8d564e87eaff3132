"""argon2 work for one import, off the event loop.

Verifying a stored hash against the file's PIN (is it unchanged?) and
hashing a new PIN cost ~50-100 ms each at the default cost and hold the
hash's memory (64 MiB) while they run: they run in worker threads, at most
``concurrency`` at once. Results are kept for the import, so that an import
retried after a concurrent change does not pay for them again.
"""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from services.auth.pins import PinHasher

T = TypeVar("T")


class PinWork:
    def __init__(self, hasher: PinHasher, concurrency: int = 4) -> None:
        self._hasher = hasher
        self._slots = asyncio.Semaphore(concurrency)
        self._verified: dict[tuple[str, str], bool] = {}
        self._hashed: dict[tuple[str, str], str] = {}

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        async with self._slots:
            return await asyncio.to_thread(work, *args)

    async def matches(self, pin_hash: str | None, pin: str) -> bool:
        """Whether a stored hash (None: no PIN stored) is of ``pin``."""
        if pin_hash is None:
            return False
        key = (pin_hash, pin)
        if key not in self._verified:
            self._verified[key] = await self._run(self._hasher.verify, pin_hash, pin)
        return self._verified[key]

    async def hash_for(self, user: str, pin: str) -> str:
        """A new salted hash of ``user``'s PIN (the same one again if asked
        twice in this import; never shared between users, whose equal PINs
        must not show as equal hashes)."""
        key = (user, pin)
        if key not in self._hashed:
            self._hashed[key] = await self._run(self._hasher.hash, pin)
        return self._hashed[key]
