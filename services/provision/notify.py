"""check-sync NOTIFYs to desk phones, through the edge.

An out-of-dialog NOTIFY to ``sip:<device>@<domain>`` goes to Kamailio, which
relays it to the device's registered contact (route PUSH, for senders in
HD_PUSH_FROM). One UDP socket carries every push; each is a non-INVITE
client transaction (RFC 3261 17.1.2): retransmitted from T1 doubling to T2
until a final answer, given up after the timeout.
"""

import asyncio
import logging
import secrets
import socket
from dataclasses import dataclass, field

from services.kernel.logs import fields
from services.sip.message import SipMessage, SipParseError, new_branch, new_tag, parse

log = logging.getLogger(__name__)

T1, T2 = 0.5, 4.0


def _outcome(status: int) -> str:
    if 200 <= status < 300:
        return "delivered"
    if status in (404, 480):
        return "not_registered"
    return "rejected"


@dataclass
class _Push:
    branch: str
    data: bytes
    answer: asyncio.Future[int] = field(default_factory=asyncio.Future)
    provisional: bool = False


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, pending: dict[str, _Push]) -> None:
        self._pending = pending

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            response = parse(data)
        except SipParseError:
            return
        if response.is_request:
            return
        push = self._pending.get(response.branch)
        if push is None or push.answer.done():
            return
        if response.status < 200:
            push.provisional = True
        else:
            push.answer.set_result(response.status)


class SentNotify:
    """A NOTIFY that has left; ``outcome()`` waits for its final answer."""

    def __init__(self, task: "asyncio.Task[str]") -> None:
        self._task = task

    async def outcome(self) -> str:
        return await self._task


class CheckSyncNotifier:
    def __init__(
        self,
        edge: tuple[str, int],
        bind_host: str,
        timeout: float,
        max_in_flight: int,
        from_user: str = "provision",
    ) -> None:
        self._edge = edge
        self._bind_host = bind_host
        self._timeout = timeout
        self._from_user = from_user
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending: dict[str, _Push] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._local = ("", 0)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self._edge
        # Resolve once (a Kubernetes service name), then send to the address.
        address = (await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM))[0][4]
        self._edge = (str(address[0]), int(address[1]))
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Socket(self._pending), local_addr=(self._bind_host, 0)
        )
        self._local = self._transport.get_extra_info("sockname")[:2]

    async def close(self) -> None:
        for push in self._pending.values():
            if not push.answer.done():
                push.answer.cancel()
        if self._transport is not None:
            self._transport.close()

    def _request(self, device: str, domain: str, event: str, branch: str) -> bytes:
        host, port = self._local
        notify = SipMessage(
            f"NOTIFY sip:{device}@{domain} SIP/2.0",
            [
                ("via", f"SIP/2.0/UDP {host}:{port};branch={branch};rport"),
                ("max-forwards", "70"),
                ("from", f"<sip:{self._from_user}@{domain}>;tag={new_tag()}"),
                ("to", f"<sip:{device}@{domain}>"),
                ("call-id", f"{secrets.token_hex(12)}@{host}"),
                ("cseq", "1 NOTIFY"),
                ("contact", f"<sip:{self._from_user}@{host}:{port}>"),
                ("event", event),
                # Unsolicited: no subscription exists, and none is created.
                ("subscription-state", "terminated"),
            ],
        )
        return notify.to_bytes()

    async def send(self, device: str, domain: str, event: str) -> SentNotify:
        """Send now (after a free in-flight slot); the answer comes later."""
        assert self._transport is not None, "not started"
        await self._slots.acquire()
        branch = new_branch()
        push = _Push(branch, self._request(device, domain, event, branch))
        self._pending[branch] = push
        self._transport.sendto(push.data, self._edge)
        return SentNotify(asyncio.create_task(self._finish(push, device)))

    async def _finish(self, push: _Push, device: str) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        interval = T1
        try:
            while True:
                wait = min(interval, deadline - loop.time())
                if wait <= 0:
                    return "timeout"
                done, _ = await asyncio.wait({push.answer}, timeout=wait)
                if done:
                    return _outcome(push.answer.result())
                assert self._transport is not None
                self._transport.sendto(push.data, self._edge)
                interval = T2 if push.provisional else min(interval * 2, T2)
        finally:
            del self._pending[push.branch]
            self._slots.release()
            log.debug("notify_done", extra=fields(device=device))
