"""Rendered device files, kept so that a phone fetching the same file again
costs no rendering.

An entry is keyed by (device, file name, binding generation, template
version): every login, logout and takeover at the device bumps its
generation, so the next fetch misses and renders the new file. What can
change without a new generation (the SIP secret, the user's name or
profile, the tenant's settings) is kept with the entry as the inputs it
was rendered from, and an entry is served only to a fetch that read equal
inputs. Entries also age out after ``max_age_seconds`` (a file's
phone-screen links carry an expiry), and the least recently used go once
there are ``max_entries``.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from services.provision import metrics
from services.provision.vendors.base import Rendered

CacheKey = tuple[str, str, int, str]  # device id, file name, generation, template version


@dataclass(frozen=True)
class _Entry:
    inputs: Hashable
    rendered: Rendered
    made: float


class RenderCache:
    def __init__(
        self,
        max_entries: int,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey, inputs: Hashable) -> Rendered | None:
        """The file rendered for ``key`` from ``inputs``, if still fresh."""
        entry = self._entries.get(key)
        if entry is None or entry.inputs != inputs or self._clock() - entry.made > self._max_age:
            metrics.RENDER_CACHE_MISS.inc()
            return None
        self._entries.move_to_end(key)
        metrics.RENDER_CACHE_HIT.inc()
        return entry.rendered

    def put(self, key: CacheKey, inputs: Hashable, rendered: Rendered) -> None:
        self._entries[key] = _Entry(inputs, rendered, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
