"""Non-INVITE client transactions over UDP (RFC 3261 §17.1.2), for every
request this project sends: the provision service's NOTIFYs and the voice
menu's BYEs.

A request is sent at once, then again after T1, doubling up to T2 (every T2
once a provisional response came), until a final response or the deadline.
Responses are matched to their request by the top Via branch; the socket's
owner hands every response it receives to ``response()``.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from services.sip.message import SipMessage

T1, T2 = 0.5, 4.0


@dataclass
class _Pending:
    final: asyncio.Future[SipMessage] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    provisional: bool = False


class ClientTransactions:
    """The requests one socket has sent and still waits on."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def response(self, message: SipMessage) -> None:
        pending = self._pending.get(message.branch)
        if pending is None or pending.final.done():
            return
        if message.status < 200:
            pending.provisional = True
        else:
            pending.final.set_result(message)

    def start(
        self, send: Callable[[bytes], None], request: SipMessage, within: float
    ) -> "asyncio.Task[SipMessage | None]":
        """Send ``request`` now; the task retransmits it and ends with the
        final response, or None when none came ``within`` seconds."""
        branch = request.branch
        pending = _Pending()
        self._pending[branch] = pending
        data = request.to_bytes()
        send(data)
        return asyncio.create_task(self._retransmit(send, data, branch, pending, within))

    async def _retransmit(
        self,
        send: Callable[[bytes], None],
        data: bytes,
        branch: str,
        pending: _Pending,
        within: float,
    ) -> SipMessage | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        interval = T1
        try:
            while (wait := min(interval, deadline - loop.time())) > 0:
                done, _ = await asyncio.wait({pending.final}, timeout=wait)
                if done:
                    return pending.final.result()
                send(data)
                interval = T2 if pending.provisional else min(interval * 2, T2)
            return None
        finally:
            del self._pending[branch]
