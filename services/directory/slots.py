"""An import's writes, recorded per Redis Cluster slot.

``queue_writes`` records into a ``SlotBatches``; the importer then replays
every command into one MULTI/EXEC on a single Redis, or into one
MULTI/EXEC per slot on a Redis Cluster (a transaction cannot span slots),
the directory index's slot (``{dir}``) last: a new entry becomes findable
only once everything it owns is written.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.crc import key_slot

from services.kernel import keys

DIR_SLOT = key_slot(keys.DIR_VERSION.encode())


def slot_of(key: str) -> int:
    slot: int = key_slot(key.encode())
    return slot


@dataclass(frozen=True)
class _Command:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class SlotBatches:
    _in_order: list[tuple[int, _Command]] = field(default_factory=list)

    def _add(self, key: str, name: str, *args: Any, **kwargs: Any) -> None:
        self._in_order.append((slot_of(key), _Command(name, (key, *args), kwargs)))

    def delete(self, *names: str) -> None:
        by_slot: dict[int, list[str]] = defaultdict(list)
        for name in names:
            by_slot[slot_of(name)].append(name)
        for same_slot in by_slot.values():
            self._add(same_slot[0], "delete", *same_slot[1:])

    def srem(self, name: str, *members: str) -> None:
        self._add(name, "srem", *members)

    def sadd(self, name: str, *members: str) -> None:
        self._add(name, "sadd", *members)

    def hdel(self, name: str, *fields: str) -> None:
        self._add(name, "hdel", *fields)

    def hset(
        self,
        name: str,
        key: str | None = None,
        value: str | None = None,
        mapping: dict[str, str] | None = None,
    ) -> None:
        self._add(name, "hset", key, value, mapping=mapping)

    def set(self, name: str, value: str | int) -> None:
        self._add(name, "set", value)

    def incr(self, name: str) -> None:
        self._add(name, "incr")

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> None:
        """A script whose keys share the first key's slot."""
        first = str(keys_and_args[0])
        self._in_order.append(
            (slot_of(first), _Command("eval", (script, numkeys, *keys_and_args), {}))
        )

    def slots(self) -> list[int]:
        """Every slot written, the directory index's last."""
        found = sorted({slot for slot, _ in self._in_order} - {DIR_SLOT})
        return [*found, DIR_SLOT] if any(s == DIR_SLOT for s, _ in self._in_order) else found

    def replay(self, tx: Redis, slot: int | None = None) -> None:
        """Queue the commands (of one ``slot``, or all) on ``tx``, in the
        order they were recorded."""
        for s, command in self._in_order:
            if slot is None or s == slot:
                getattr(tx, command.name)(*command.args, **command.kwargs)
