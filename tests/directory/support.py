"""What the directory and CLI tests share: the example file, edits of it, a
cheap argon2 hasher, and a full dump of Redis to compare before and after."""

import threading
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from services.auth.pins import PinHasher
from services.directory.load import DirectoryError, parse_directory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "directory.yaml"
# The example's tenants share one cross_tenant_group: every key's tag.
GROUP = "acme-group"
CHEAP = PinHasher(time_cost=1, memory_cost_kib=8, parallelism=1)
# The example's users with a PIN, and their PINs (globex's company PIN).
PINS = {
    ("acme", "1001"): "4711",
    ("acme", "1002"): "8264",
    ("acme", "1003"): "5173",
    ("globex", "3001"): "2580",
}


class CountingHasher(PinHasher):
    """The cheap argon2, counting the verifications it runs."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost_kib=8, parallelism=1)
        self._lock = threading.Lock()
        self.verifies = 0

    def verify(self, pin_hash: str, pin: str) -> bool:
        with self._lock:
            self.verifies += 1
        return super().verify(pin_hash, pin)


def edited(*replacements: tuple[str, str]) -> str:
    """The example file with each (old, new) replaced, once each."""
    text = EXAMPLE.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def without_entry(text: str, first_line: str) -> str:
    """``text`` without the list entry that starts with ``first_line``."""
    start = text.index(first_line)
    end = text.find("\n  - ", start + 1)
    section_end = text.find("\n\n", start)
    if end == -1 or (section_end != -1 and section_end < end):
        end = section_end if section_end != -1 else len(text)
    return text[:start] + text[end + 1 :]


async def dump(redis: Redis) -> dict[str, Any]:
    """Every key with its type and value (streams with their entries)."""
    out: dict[str, Any] = {}
    for key in sorted(await redis.keys("*")):
        kind = await redis.type(key)
        if kind == "hash":
            value: Any = await redis.hgetall(key)
        elif kind == "set":
            value = await redis.smembers(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = await redis.xrange(key)
        else:
            value = await redis.get(key)
        out[key] = (kind, value)
    return out


def mentions(state: dict[str, Any], word: str) -> list[str]:
    """Keys of ``state`` (a ``dump``) whose name, hash fields or values, or
    set members contain ``word`` as a whole ":"-/"/"-separated part; streams
    (history) are not counted."""

    def has(text: str) -> bool:
        return word in text.replace("/", ":").split(":")

    found = []
    for key, (kind, value) in state.items():
        if kind == "stream":
            continue
        parts = [key]
        if kind == "hash":
            parts += [*value.keys(), *value.values()]
        elif kind == "set":
            parts += list(value)
        if any(has(p) for p in parts):
            found.append(key)
    return found


def problems(text: str) -> list[str]:
    """Every problem parsing ``text`` (as dir.yaml) reports, as printed."""
    with pytest.raises(DirectoryError) as exc:
        parse_directory(text, "dir.yaml")
    return [str(p) for p in exc.value.problems]
