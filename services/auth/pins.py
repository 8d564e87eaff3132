"""PIN policy and PIN hashing. PINs are stored only as argon2id hashes."""

import itertools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 4
MAX_LENGTH = 12


def pin_policy_violation(pin: str, extension: str) -> str | None:
    """Why ``pin`` is not acceptable for the user with ``extension``, or None.

    4-12 digits; not one repeated digit (1111); not an ascending or
    descending run (1234, 9876, also wrapping 8901); not the extension.
    """
    if not pin.isdigit() or not pin.isascii():
        return "PIN must contain digits only"
    if not MIN_LENGTH <= len(pin) <= MAX_LENGTH:
        return f"PIN must be {MIN_LENGTH} to {MAX_LENGTH} digits long"
    if len(set(pin)) == 1:
        return "PIN must not repeat one digit"
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {9}):
        return "PIN must not be a sequence of consecutive digits"
    if pin == extension:
        return "PIN must not be the user's own extension"
    return None


class PinHasher:
    """argon2id with tunable cost; the defaults are argon2-cffi's RFC 9106
    low-memory profile (t=3, m=64 MiB, p=4)."""

    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4):
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )

    def hash(self, pin: str) -> str:
        return self._hasher.hash(pin)

    def verify(self, pin_hash: str, pin: str) -> bool:
        try:
            return self._hasher.verify(pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, pin_hash: str) -> bool:
        return self._hasher.check_needs_rehash(pin_hash)
