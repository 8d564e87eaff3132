"""PINs at rest: who a UserRef names, the user's argon2id PIN hash, and
hashing and verifying off the event loop.

argon2 is CPU- and memory-heavy by design: it runs in a worker thread so the
event loop keeps serving, and at most ``argon2_max_concurrency`` at once so a
burst of attempts cannot take the memory of that many hashes.
"""

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth import metrics
from services.auth.errors import PinPolicyError
from services.auth.pins import PinHasher, pin_policy_violation
from services.auth.settings import AuthSettings
from services.kernel import keys
from services.kernel.errors import InvalidArgument, NotFound
from services.kernel.lookup import DirectoryLookup, IncompleteUserRef, UserName
from services.kernel.lua import register
from services.kernel.tenants import TenantCache, TenantConfig

T = TypeVar("T")


def pin_key(user: UserName) -> str:
    return keys.pin(user.tenant.group, user.tenant.id, user.extension)


def hasher_of(settings: AuthSettings) -> PinHasher:
    return PinHasher(
        settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism
    )


class PinStore:
    def __init__(self, redis: Redis, tenants: TenantCache, settings: AuthSettings) -> None:
        self._redis = redis
        self._lookup = DirectoryLookup(redis, tenants)
        self._hasher = hasher_of(settings)
        self._slots = asyncio.Semaphore(settings.argon2_max_concurrency)
        self._replace = register(redis, __package__, "replace_pin.lua")
        # Verified against when there is no hash to verify (unknown user, no
        # PIN), so that those answers take as long as a wrong PIN.
        self._decoy_hash = self._hasher.hash("decoy, never a PIN")

    async def _argon2(self, work: Callable[..., T], *args: str) -> T:
        async with self._slots:
            return await asyncio.to_thread(work, *args)

    async def device_tenant(self, device_id: str) -> TenantConfig | None:
        return await self._lookup.device_tenant(device_id)

    async def user(self, ref: pb.UserRef) -> UserName | None:
        """The user ``ref`` names, resolved (not whether the user exists)."""
        try:
            return await self._lookup.user(ref.tenant, ref.extension, ref.hotdesk_id)
        except IncompleteUserRef as exc:
            raise InvalidArgument(str(exc)) from exc

    async def existing_user(self, ref: pb.UserRef) -> UserName:
        user = await self.user(ref)
        if user is None or not await self._redis.exists(user.key):
            raise NotFound(f"no user {ref.tenant}/{ref.extension or ref.hotdesk_id}")
        return user

    async def pin_hash(self, user: UserName) -> tuple[bool, str | None]:
        """(whether the user exists, their PIN hash or None)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(user.key)
            pipe.get(pin_key(user))
            exists, pin_hash = await pipe.execute()
        return bool(exists), pin_hash if exists else None

    async def verify(self, pin_hash: str | None, pin: str) -> bool:
        """Whether ``pin`` matches; with no hash, as slow as a wrong PIN."""
        started = time.perf_counter()
        ok = await self._argon2(self._hasher.verify, pin_hash or self._decoy_hash, pin)
        metrics.PIN_VERIFY_SECONDS.observe(time.perf_counter() - started)
        return ok and pin_hash is not None

    async def rehash_if_needed(self, user: UserName, pin_hash: str, pin: str) -> None:
        """After a successful verify: store the hash again if the cost
        settings changed since it was made (unless the PIN changed meanwhile)."""
        if self._hasher.needs_rehash(pin_hash):
            new_hash = await self._argon2(self._hasher.hash, pin)
            await self._replace(keys=[pin_key(user)], args=[pin_hash, new_hash])

    async def set_pin(self, user: UserName, pin: str) -> None:
        """Apply the PIN policy, then store the PIN's argon2id hash."""
        violation = pin_policy_violation(pin, user.extension)
        if violation:
            raise PinPolicyError(violation)
        await self._redis.set(pin_key(user), await self._argon2(self._hasher.hash, pin))
