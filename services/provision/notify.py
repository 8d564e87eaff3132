"""check-sync NOTIFYs to desk phones, through the edge.

An out-of-dialog NOTIFY to ``sip:<device>@<domain>`` goes to Kamailio, which
relays it to the device's registered contact (route PUSH, for senders in
HD_PUSH_FROM). One UDP socket carries every push; each is a non-INVITE
client transaction (``services.sip.transaction``): retransmitted until a
final answer, given up after the timeout.
"""

import asyncio
import logging
import secrets
import socket

from services.kernel.lifecycle import cancel_and_wait
from services.kernel.logs import fields
from services.sip.message import SipMessage, SipParseError, new_branch, new_tag, parse
from services.sip.transaction import ClientTransactions

log = logging.getLogger(__name__)


def _outcome(status: int) -> str:
    if 200 <= status < 300:
        return "delivered"
    if status in (404, 480):
        return "not_registered"
    return "rejected"


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, transactions: ClientTransactions) -> None:
        self._transactions = transactions

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            response = parse(data)
        except SipParseError:
            return
        if not response.is_request:
            self._transactions.response(response)


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
        self._transactions = ClientTransactions()
        self._answers: set[asyncio.Task[str]] = set()
        self._transport: asyncio.DatagramTransport | None = None
        self._local = ("", 0)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self._edge
        # Resolve once (a Kubernetes service name), then send to the address.
        address = (await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM))[0][4]
        self._edge = (str(address[0]), int(address[1]))
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Socket(self._transactions), local_addr=(self._bind_host, 0)
        )
        self._local = self._transport.get_extra_info("sockname")[:2]

    async def close(self) -> None:
        await cancel_and_wait(list(self._answers))
        if self._transport is not None:
            self._transport.close()

    def _request(self, device: str, domain: str, event: str) -> SipMessage:
        host, port = self._local
        notify = SipMessage(
            f"NOTIFY sip:{device}@{domain} SIP/2.0",
            [
                ("via", f"SIP/2.0/UDP {host}:{port};branch={new_branch()};rport"),
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
        return notify

    async def send(self, device: str, domain: str, event: str) -> SentNotify:
        """Send now (after a free in-flight slot); the answer comes later."""
        transport = self._transport
        assert transport is not None, "not started"
        await self._slots.acquire()
        final = self._transactions.start(
            lambda data: transport.sendto(data, self._edge),
            self._request(device, domain, event),
            self._timeout,
        )
        answer = asyncio.create_task(self._finish(final, device))
        self._answers.add(answer)
        answer.add_done_callback(self._answers.discard)
        return SentNotify(answer)

    async def _finish(self, final: "asyncio.Task[SipMessage | None]", device: str) -> str:
        try:
            response = await final
        finally:
            self._slots.release()
        log.debug("notify_done", extra=fields(device=device))
        return "timeout" if response is None else _outcome(response.status)
