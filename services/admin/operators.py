"""Operator accounts: a name, a role, the tenants the role covers, and an
argon2id password hash (admin-owned keys, ``keys.admin_operator``).

Roles:

* ``platform_admin``: every tenant, every action, operator accounts;
* ``tenant_admin``: every action on its listed tenants (webhooks too);
* ``helpdesk``: reads its listed tenants, forces logouts and unlocks.
"""

import asyncio
import enum
import re
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from services.kernel import keys
from services.kernel.clock import Clock, now_ms

# An operator's name is also the channel of the admin service's gRPC calls
# (``service:admin/<name>``, see ``kernel.identity.actor``): the same rule.
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
MIN_PASSWORD = 12


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    HELPDESK = "helpdesk"


class Action(enum.StrEnum):
    """What an operator may be allowed to do."""

    READ = "read"
    LOGOUT = "logout"
    UNLOCK = "unlock"
    LOGIN = "login"  # log a user in on someone's behalf
    SET_PIN = "set_pin"
    RESYNC = "resync"
    PROFILE = "edit_profile"  # users' phone profiles
    OPERATORS = "operators"  # manage operator accounts
    WEBHOOKS = "webhooks"  # register and remove webhooks
    IMPORT = "import"  # import a tenant's part of the directory


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.PLATFORM_ADMIN: frozenset(Action),
    Role.TENANT_ADMIN: frozenset(Action) - {Action.OPERATORS},
    Role.HELPDESK: frozenset({Action.READ, Action.LOGOUT, Action.UNLOCK}),
}


@dataclass(frozen=True)
class Operator:
    name: str
    role: Role
    tenants: tuple[str, ...]  # ignored for a platform admin: every tenant

    def sees(self, tenant: str) -> bool:
        return self.role is Role.PLATFORM_ADMIN or tenant in self.tenants

    def may(self, action: Action) -> bool:
        return action in _ALLOWED[self.role]

    def visible(self, tenants: list[str]) -> list[str]:
        """``tenants`` restricted to those this operator sees."""
        return [t for t in tenants if self.sees(t)]


class OperatorStore:
    def __init__(
        self,
        redis: Redis,
        hasher: PasswordHasher,
        clock: Clock = now_ms,
    ) -> None:
        self._redis = redis
        self._hasher = hasher
        self._clock = clock
        # A hash to verify against when the name is unknown, so that a
        # sign-in takes as long whether or not the operator exists.
        self._decoy = hasher.hash("decoy password, never valid")

    @staticmethod
    def hasher(time_cost: int, memory_cost_kib: int, parallelism: int) -> PasswordHasher:
        return PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )

    async def get(self, name: str) -> Operator | None:
        fields = await self._redis.hmget(keys.admin_operator(name), "role", "tenants")
        role, tenants = fields
        if not role:
            return None
        return Operator(name, Role(role), tuple(t for t in (tenants or "").split(",") if t))

    async def put(self, operator: Operator, password: str) -> None:
        """Create the operator, or replace its role, tenants and password."""
        if not re.fullmatch(NAME_PATTERN, operator.name):
            raise ValueError(f"an operator's name must match {NAME_PATTERN}")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"an operator's password has at least {MIN_PASSWORD} characters")
        digest = await asyncio.to_thread(self._hasher.hash, password)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                keys.admin_operator(operator.name),
                mapping={
                    "role": operator.role.value,
                    "tenants": ",".join(operator.tenants),
                    "password": digest,
                    "created_ms": self._clock(),
                },
            )
            pipe.sadd(keys.ADMIN_OPERATORS, operator.name)
            await pipe.execute()

    async def delete(self, name: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.admin_operator(name))
            pipe.srem(keys.ADMIN_OPERATORS, name)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def names(self) -> list[str]:
        return sorted(await self._redis.smembers(keys.ADMIN_OPERATORS))

    async def check_password(self, name: str, password: str) -> Operator | None:
        """The operator if ``password`` is theirs (argon2id, off the event loop)."""
        digest = await self._redis.hget(keys.admin_operator(name), "password")
        try:
            await asyncio.to_thread(self._hasher.verify, digest or self._decoy, password)
        except (VerificationError, InvalidHashError):
            return None
        return await self.get(name) if digest else None
