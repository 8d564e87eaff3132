"""How many menu calls may run at once: per device (a desk phone has a line
or two; more is somebody flooding the menu from one desk) and in total."""

from collections import Counter
from typing import Literal

Verdict = Literal["admitted", "busy", "full"]


class CallLimits:
    def __init__(self, per_device: int, total: int) -> None:
        self._per_device = per_device
        self._total = total
        self._calls: Counter[str] = Counter()

    @property
    def active(self) -> int:
        return self._calls.total()

    def admit(self, device: str) -> Verdict:
        """Take a place for a call of ``device`` ("admitted": give it back
        with ``release``), or say why not: "full" (every place is taken) or
        "busy" (the device has all its own)."""
        if self.active >= self._total:
            return "full"
        if self._calls[device] >= self._per_device:
            return "busy"
        self._calls[device] += 1
        return "admitted"

    def release(self, device: str) -> None:
        self._calls[device] -= 1
        if self._calls[device] <= 0:
            del self._calls[device]
