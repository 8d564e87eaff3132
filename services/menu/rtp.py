"""The media side of a menu call: prompts sent as RTP at a steady 20 ms
pace in the negotiated codec, and telephone-events read back as digits.

Each packet is due at start + n * 20 ms (an absolute schedule, so a late
wake-up does not push every later packet back); how late each one leaves
is measured.

Media goes only to the phone: ``src`` is its signalling source IP as the
edge signed it. When the offer's address is that IP, prompts go to the
offered port at once; otherwise (the phone is behind NAT, or the offer names
somebody else) nothing is sent until RTP arrives from ``src``, and then
prompts go to the address it came from (symmetric RTP). RTP from any other
address is ignored.
"""

import asyncio
import ipaddress
import logging
import random
import struct
from collections.abc import Callable

from services.kernel.logs import fields
from services.menu import metrics
from services.menu.dtmf import EventDecoder
from services.menu.sdp import Offer

log = logging.getLogger(__name__)

FRAME = 160  # 20 ms of 8 kHz G.711
PTIME = 0.020
_SILENCE = {0: b"\xff" * FRAME, 8: b"\xd5" * FRAME}


Address = tuple[str, int]


def _ip(address: str) -> str:
    return str(ipaddress.ip_address(address))


class MediaSession(asyncio.DatagramProtocol):
    def __init__(self, src: str) -> None:
        # Where digits go (set by the call once it exists).
        self.on_digit: Callable[[str], None] = lambda digit: None
        self.local_port = 0
        self._src = _ip(src)
        self._decoder = EventDecoder()
        self._transport: asyncio.DatagramTransport | None = None
        self.offer: Offer | None = None
        self._latched: Address | None = None
        self._seq = random.randrange(1 << 16)
        self._timestamp = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)
        self.packets_sent = 0

    async def open(self, host: str) -> int:
        """Bind a local port for the call; returns it."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        self._transport = transport
        self.local_port = int(transport.get_extra_info("sockname")[1])
        return self.local_port

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def target(self) -> Address | None:
        """Where prompts go now: the offered address if it is the phone's
        own, else the address the phone's RTP came from (None until then)."""
        offer = self.offer
        if offer is not None and _ip(offer.address) == self._src:
            return offer.address, offer.port
        return self._latched

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            from_phone = _ip(addr[0]) == self._src
        except ValueError:
            from_phone = False
        if not from_phone:
            return  # only the phone's own address is heard
        if self._latched is None:
            self._latched = (addr[0], addr[1])
            log.info("menu_rtp_latched", extra=fields(address=f"{addr[0]}:{addr[1]}"))
        if len(data) < 12 or data[0] >> 6 != 2 or self.offer is None:
            return
        if (data[1] & 0x7F) != self.offer.event_pt:
            return
        count = data[0] & 0x0F
        timestamp = struct.unpack_from("!I", data, 4)[0]
        digit = self._decoder.feed(timestamp, data[12 + 4 * count :])
        if digit is not None:
            metrics.MENU_DTMF.labels("rfc4733").inc()
            self.on_digit(digit)

    async def play(self, audio: bytes, interrupted: Callable[[], bool]) -> bool:
        """Send ``audio`` (in the negotiated codec) frame by frame; stop early
        when ``interrupted()`` (a digit came in). Whether it played to the end.
        While the phone holds the call nothing is sent, but time runs on."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        frames = [audio[i : i + FRAME] for i in range(0, len(audio), FRAME)]
        for n, frame in enumerate(frames):
            if interrupted():
                return False
            due = start + n * PTIME
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._send(frame.ljust(FRAME, _SILENCE[self._codec][:1]), loop.time() - due)
        return True

    @property
    def _codec(self) -> int:
        return self.offer.codec if self.offer else 0

    def _send(self, payload: bytes, late: float) -> None:
        offer = self.offer
        if self._transport is None or offer is None:
            return
        self._seq = (self._seq + 1) & 0xFFFF
        self._timestamp = (self._timestamp + FRAME) & 0xFFFFFFFF
        target = self.target
        if offer.on_hold or target is None:
            return
        header = struct.pack("!BBHII", 0x80, offer.codec, self._seq, self._timestamp, self._ssrc)
        self._transport.sendto(header + payload, target)
        self.packets_sent += 1
        metrics.MENU_RTP_PACKETS.inc()
        metrics.MENU_RTP_LATENESS.observe(max(0.0, late))
