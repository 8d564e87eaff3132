"""DTMF from RFC 4733 telephone-event packets and from SIP INFO
(application/dtmf-relay)."""

from dataclasses import dataclass

EVENTS = "0123456789*#ABCD"


@dataclass
class EventDecoder:
    """One digit per event, however often its packets repeat.

    An event is known by its RTP timestamp and code; its end packet is sent
    three times. A packet starts a new digit when its (timestamp, code)
    differs from the last one, or when the last event had ended and this one
    has not (the same digit pressed again, even with a replayed timestamp).
    """

    _last: tuple[int, int] | None = None
    _ended: bool = False

    def feed(self, timestamp: int, payload: bytes) -> str | None:
        if len(payload) < 4 or payload[0] >= len(EVENTS):
            return None
        code, end = payload[0], bool(payload[1] & 0x80)
        key = (timestamp, code)
        fresh = key != self._last or (self._ended and not end)
        self._last, self._ended = key, end
        return EVENTS[code] if fresh else None


def info_digit(content_type: str, body: bytes) -> str | None:
    """The digit of a SIP INFO body: ``application/dtmf-relay`` (``Signal=5``)
    or ``application/dtmf`` (``5``)."""
    kind = content_type.split(";")[0].strip().lower()
    text = body.decode(errors="replace")
    if kind == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                text = value
                break
        else:
            return None
    elif kind != "application/dtmf":
        return None
    digit = text.strip().upper()[:2]
    digit = {"10": "*", "11": "#"}.get(digit, digit)
    return digit if len(digit) == 1 and digit in EVENTS else None
