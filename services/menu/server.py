"""The voice menu's SIP side: a UDP user agent server for the calls Kamailio
relays to it.

Served only to the edge: a request must come from ``trusted_edges``,
and a new call must carry the edge's signed ``X-Hotdesk-Device`` (see
``edge_signature``), which names the phone the edge authenticated and the
address it called from; media goes to that address only (see ``rtp``).
Calls are capped per device (486) and in total (503). Per call: INVITE with an SDP
offer → 100 (180 while ringing) → 200 with the answer, retransmitted until
the ACK → the conversation → BYE along the record-routed path. Also BYE and
CANCEL from the phone, OPTIONS, INFO (DTMF), re-INVITE (hold/unhold), and
retransmitted requests (answered again, never handled twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
from collections.abc import Coroutine
from dataclasses import dataclass, field

import grpc
from hotdesk.v1 import auth_pb2_grpc, binding_pb2_grpc
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.kernel import correlation
from services.kernel.lifecycle import cancel_and_wait
from services.kernel.logs import fields
from services.kernel.lookup import DirectoryLookup
from services.kernel.tenants import TenantCache, TenantConfig
from services.menu import metrics
from services.menu.actions import DeviceActions
from services.menu.dtmf import info_digit
from services.menu.edge_signature import HEADER, EdgeSignature, SignatureError, SignedDevice
from services.menu.flow import Conversation, Dialled, converse, dialled
from services.menu.limits import CallLimits
from services.menu.prompts import PromptLibrary
from services.menu.rtp import MediaSession
from services.menu.sdp import (
    NoCommonCodec,
    NotAnAddress,
    Offer,
    SdpError,
    answer,
    parse_offer,
)
from services.menu.settings import MenuSettings
from services.menu.voice import CallVoice
from services.sip.message import (
    SipMessage,
    SipParseError,
    new_branch,
    new_tag,
    param,
    parse,
    response_to,
    uri_of,
)
from services.sip.transaction import T1, T2, ClientTransactions

log = logging.getLogger(__name__)

TIMER_B = 32.0  # how long a 200 waits for its ACK
BYE_WITHIN = 8.0  # how long our BYE waits for its answer
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
RETRY_AFTER_FULL = "5"  # seconds, in a 503 when every place is taken

Address = tuple[str, int]


def _host_port(uri: str) -> Address:
    """Where a SIP URI points (``sip:user@host:port;params``)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    hostport = rest.split("@", 1)[-1].split(";", 1)[0].split(">", 1)[0]
    host, _, port = hostport.partition(":")
    return host, int(port or 5060)


@dataclass
class Call:
    invite: SipMessage
    peer: Address
    tenant: TenantConfig
    device: str
    what: Dialled
    media: MediaSession
    voice: CallVoice
    local_tag: str = field(default_factory=new_tag)
    local_cseq: int = field(default_factory=lambda: random.randrange(1, 10_000))
    sdp_session: int = field(default_factory=lambda: random.randrange(1, 1 << 31))
    sdp_version: int = 1
    final: bytes | None = None  # the INVITE's final response, for retransmissions
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False
    conversation: Conversation | None = None
    dtmf_methods: set[str] = field(default_factory=set)
    reinvites: dict[int, bytes] = field(default_factory=dict)  # CSeq -> our answer
    task: asyncio.Task[None] | None = None  # the call's own task (flow included)

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def remote_from(self) -> str:
        return self.invite["from"]

    @property
    def local_to(self) -> str:
        return f"{self.invite['to']};tag={self.local_tag}"


def _sdp_refusal(exc: SdpError) -> tuple[int, str, str]:
    """(status, reason phrase, outcome label) for an offer we cannot take:
    unreadable is 400, readable but unacceptable 488 (RFC 3261 §21.4.26)."""
    if isinstance(exc, NotAnAddress):
        return 488, "Not Acceptable Here", "not_an_address"
    if isinstance(exc, NoCommonCodec):
        return 488, "Not Acceptable Here", "rejected"
    return 400, "Bad Request", "bad_sdp"


class VoiceMenu(asyncio.DatagramProtocol):
    def __init__(
        self,
        settings: MenuSettings,
        auth: auth_pb2_grpc.AuthServiceAsyncStub,
        binding: binding_pb2_grpc.BindingServiceAsyncStub,
        tenants: TenantCache,
        redis: Redis,
        signature: EdgeSignature,
    ) -> None:
        self._s = settings
        self._signature = signature
        self._limits = CallLimits(settings.max_calls_per_device, settings.max_calls)
        self._pending: set[str] = set()  # Call-IDs of new calls being set up
        self._auth = auth
        self._binding = binding
        self._lookup = DirectoryLookup(redis, tenants)
        self._prompts = PromptLibrary(settings.prompts_dir)
        self._trusted = [
            ipaddress.ip_network(a.strip(), strict=False)
            for a in settings.trusted_edges.split(",")
            if a.strip()
        ]
        self._advertise = settings.advertise or settings.sip_host
        self._calls: dict[str, Call] = {}
        self._transactions = ClientTransactions()  # our BYEs
        self._tasks: set[asyncio.Task[None]] = set()
        self._transport: asyncio.DatagramTransport | None = None
        self.port = 0

    # Lifecycle

    async def start(self) -> None:
        self._prompts.check()
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self._s.sip_host, self._s.sip_port)
        )
        self.port = int(self._transport.get_extra_info("sockname")[1])
        log.info("voice_menu_listening", extra=fields(address=f"{self._s.sip_host}:{self.port}"))

    async def stop(self) -> None:
        """Hang up every answered call (BYE, bounded), end the rest, close."""
        answered = [c for c in self._calls.values() if c.acked.is_set() and not c.ended]
        if answered:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await asyncio.gather(*(self._bye(c) for c in answered), return_exceptions=True)
        await cancel_and_wait(list(self._tasks))
        if self._transport is not None:
            self._transport.close()

    def _spawn(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Datagrams

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if data.strip() == b"":
            return  # keep-alive
        try:
            message = parse(data)
        except SipParseError as exc:
            log.info("menu_bad_sip", extra=fields(peer=f"{addr[0]}:{addr[1]}", error=str(exc)))
            return
        if not message.is_request:
            self._transactions.response(message)
            return
        if not any(ipaddress.ip_address(addr[0]) in net for net in self._trusted):
            self._refuse(message, addr, "untrusted", 403, "Only the edge may call the menu")
            return
        self._request(message, addr)

    def _send(self, data: bytes, addr: Address) -> None:
        if self._transport is not None:
            self._transport.sendto(data, addr)

    def _reply(
        self,
        request: SipMessage,
        addr: Address,
        status: int,
        reason: str,
        tag: str = "",
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> bytes:
        response = response_to(request, status, reason, tag or new_tag())
        response.headers += extra or []
        response.body = body
        data = response.to_bytes()
        self._send(data, addr)
        return data

    def _request(self, msg: SipMessage, addr: Address) -> None:
        method = msg.method
        call = self._calls.get(msg.call_id)
        in_dialog = bool(param(msg["to"], "tag"))
        if method == "INVITE" and not in_dialog:
            if call is not None:  # a retransmission: answer again
                if call.final is not None:
                    self._send(call.final, addr)
                return
            if msg.call_id in self._pending:
                return  # a retransmission of a call still being set up
            self._pending.add(msg.call_id)
            self._spawn(self._new_call(msg, addr))
        elif method == "ACK":
            if call is not None and msg.cseq[0] == call.invite.cseq[0]:
                call.acked.set()
        elif method == "CANCEL":
            self._cancel(msg, addr, call)
        elif method == "OPTIONS":
            self._reply(
                msg, addr, 200, "OK", extra=[("allow", ALLOW), ("accept", "application/sdp")]
            )
        elif call is None or not in_dialog:
            self._reply(msg, addr, 481, "Call/Transaction Does Not Exist")
        elif method == "BYE":
            self._reply(msg, addr, 200, "OK", call.local_tag)
            self._end(call, hung_up=True)
        elif method == "INFO":
            self._info(msg, addr, call)
        elif method == "INVITE":
            self._reinvite(msg, addr, call)
        else:
            self._reply(msg, addr, 405, "Method Not Allowed", call.local_tag, [("allow", ALLOW)])

    # Calls

    def _refuse(
        self,
        request: SipMessage,
        addr: Address,
        outcome: str,
        status: int,
        reason: str,
        extra: list[tuple[str, str]] | None = None,
        **details: str,
    ) -> None:
        """Answer a request the menu will not serve: counted, logged."""
        metrics.MENU_OUTCOMES.labels(outcome).inc()
        log.warning(
            "menu_refused",
            extra=fields(
                outcome=outcome,
                status=status,
                peer=f"{addr[0]}:{addr[1]}",
                reason=reason,
                **details,
            ),
        )
        self._reply(request, addr, status, reason, extra=extra)

    async def _new_call(self, invite: SipMessage, addr: Address) -> None:
        """Admit a new call (signed device, within the caps), then run it;
        everything it logs and asks other services carries its Call-ID."""
        correlation.adopt(invite.call_id)
        try:
            try:
                signed = self._signature.verify(invite.get_all(HEADER), invite.call_id)
            except SignatureError as exc:
                self._refuse(invite, addr, exc.reason, 403, str(exc))
                return
            verdict = self._limits.admit(signed.device)
            if verdict == "full":
                retry = [("retry-after", RETRY_AFTER_FULL)]
                self._refuse(invite, addr, "overloaded", 503, "Menu Full", retry)
                return
            if verdict == "busy":
                self._refuse(invite, addr, "busy", 486, "Busy Here", device=signed.device)
                return
            try:
                await self._run_call(invite, addr, signed)
            finally:
                self._limits.release(signed.device)
        finally:
            self._pending.discard(invite.call_id)

    async def _run_call(self, invite: SipMessage, addr: Address, signed: SignedDevice) -> None:
        device = signed.device
        try:
            tenant = await self._lookup.device_tenant(device)
        except (RedisError, OSError):
            self._reply(invite, addr, 503, "Service Unavailable", extra=[("retry-after", "5")])
            return
        if tenant is None:
            self._refuse(invite, addr, "rejected", 403, "No known device", device=device)
            return
        number = uri_of(invite.request_uri).split(":", 1)[-1].split("@", 1)[0]
        what = dialled(tenant, number)
        if what is None:
            self._reply(invite, addr, 404, "No such feature code")
            return
        try:
            offer = parse_offer(invite.body.decode(errors="replace"))
        except SdpError as exc:
            status, phrase, outcome = _sdp_refusal(exc)
            warning = [("warning", f'399 menu "{exc}"')]
            self._refuse(invite, addr, outcome, status, phrase, warning, device=device)
            return
        media = MediaSession(signed.src)
        voice = CallVoice(
            media,
            self._prompts,
            tenant.id,
            tenant.language,
            self._s.first_digit_seconds,
            self._s.inter_digit_seconds,
        )
        media.offer = offer
        call = Call(invite, addr, tenant, device, what, media, voice)
        call.task = asyncio.current_task()
        media.on_digit = lambda digit: self._digit(call, "rfc4733", digit)
        self._calls[call.call_id] = call
        metrics.MENU_CALLS.inc()
        metrics.MENU_ACTIVE.inc()
        local_port = await media.open(self._s.sip_host)
        self._reply(invite, addr, 100, "Trying", call.local_tag)
        try:
            if self._s.answer_after_seconds:
                self._reply(invite, addr, 180, "Ringing", call.local_tag)
                await asyncio.sleep(self._s.answer_after_seconds)
            if call.ended:
                return
            sdp = answer(offer, self._advertise, local_port, call.sdp_session, call.sdp_version)
            call.final = self._reply(
                invite, addr, 200, "OK", call.local_tag, self._contact(), sdp.encode()
            )
            await self._until_acked(call)
            if not call.ended:
                await self._talk(call)
        finally:
            self._end(call, hung_up=False)

    def _contact(self) -> list[tuple[str, str]]:
        return [
            ("contact", f"<sip:menu@{self._advertise}:{self.port}>"),
            ("allow", ALLOW),
            ("content-type", "application/sdp"),
        ]

    async def _until_acked(self, call: Call) -> None:
        """Send the 200 again (T1 doubling to T2) until the ACK; after 32 s
        without one, the call ends."""
        interval, waited = T1, 0.0
        while not call.acked.is_set() and not call.ended:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await call.acked.wait()
                    return
            waited += interval
            if waited >= TIMER_B:
                call.ended = True
                return
            if call.final is not None:
                self._send(call.final, call.peer)
            interval = min(interval * 2, T2)

    async def _talk(self, call: Call) -> None:
        actions = DeviceActions(
            self._auth,
            self._binding,
            self._lookup,
            call.tenant.id,
            call.device,
            self._s.rpc_timeout_seconds,
        )
        conversation = Conversation(call.voice, actions, call.tenant, self._s.tries)
        call.conversation = conversation
        try:
            await converse(conversation, call.what, self._s.max_call_seconds)
        except (grpc.aio.AioRpcError, RedisError, OSError) as exc:
            conversation.outcome = "unavailable"
            log.warning("menu_unavailable", extra=fields(device=call.device, error=str(exc)))
            with contextlib.suppress(Exception):
                await call.voice.say("unavailable", "goodbye")
        if not call.ended:
            await self._bye(call)

    def _digit(self, call: Call, method: str, digit: str) -> None:
        call.dtmf_methods.add(method)
        call.voice.digit(digit)

    def _info(self, msg: SipMessage, addr: Address, call: Call) -> None:
        digit = info_digit(msg.get("content-type") or "", msg.body)
        self._reply(msg, addr, 200, "OK", call.local_tag)
        if digit is not None:
            metrics.MENU_DTMF.labels("info").inc()
            self._digit(call, "info", digit)

    def _reinvite(self, msg: SipMessage, addr: Address, call: Call) -> None:
        number = msg.cseq[0]
        if number in call.reinvites:  # retransmission
            self._send(call.reinvites[number], addr)
            return
        try:
            offer = parse_offer(msg.body.decode(errors="replace")) if msg.body else call.media.offer
        except SdpError as exc:
            status, phrase, _ = _sdp_refusal(exc)
            self._reply(
                msg, addr, status, phrase, call.local_tag, [("warning", f'399 menu "{exc}"')]
            )
            return
        assert offer is not None
        call.media.offer = Offer(
            offer.address,
            offer.port,
            call.media.offer.codec if call.media.offer else offer.codec,
            offer.event_pt,
            offer.direction,
        )
        call.sdp_version += 1
        local_port = call.media.local_port
        sdp = answer(
            call.media.offer, self._advertise, local_port, call.sdp_session, call.sdp_version
        )
        call.reinvites[number] = self._reply(
            msg, addr, 200, "OK", call.local_tag, self._contact(), sdp.encode()
        )
        log.info("menu_reinvite", extra=fields(device=call.device, hold=call.media.offer.on_hold))

    def _cancel(self, msg: SipMessage, addr: Address, call: Call | None) -> None:
        if call is None:
            self._reply(msg, addr, 481, "Call/Transaction Does Not Exist")
            return
        self._reply(msg, addr, 200, "OK", call.local_tag)
        if call.final is None:  # still ringing: the INVITE ends with 487
            call.final = self._reply(call.invite, addr, 487, "Request Terminated", call.local_tag)
            self._end(call, hung_up=True)

    async def _bye(self, call: Call) -> None:
        """Hang up along the record-routed path; wait (bounded) for the 200."""
        call.local_cseq += 1
        routes = call.invite.get_all("record-route")
        target = uri_of(call.invite.get("contact") or call.invite["from"])
        headers = [
            ("via", f"SIP/2.0/UDP {self._advertise}:{self.port};branch={new_branch()};rport"),
            ("max-forwards", "70"),
            *[("route", r) for r in routes],
            ("from", call.local_to),
            ("to", call.remote_from),
            ("call-id", call.call_id),
            ("cseq", f"{call.local_cseq} BYE"),
        ]
        bye = SipMessage(f"BYE {target} SIP/2.0", headers)
        destination = _host_port(uri_of(routes[0])) if routes else _host_port(target)
        call.ended = True
        await self._transactions.start(lambda data: self._send(data, destination), bye, BYE_WITHIN)

    def _end(self, call: Call, *, hung_up: bool) -> None:
        """Once per call: stop its media and flow, count and log the outcome."""
        if self._calls.get(call.call_id) is not call:
            return
        del self._calls[call.call_id]
        call.ended = True
        if call.task is not None and call.task is not asyncio.current_task():
            call.task.cancel()  # the phone hung up: stop talking
        call.media.close()
        metrics.MENU_ACTIVE.dec()
        conversation = call.conversation
        outcome = conversation.outcome if conversation else "abandoned"
        if hung_up and conversation is not None and outcome not in ("logged_in", "logged_out"):
            outcome = "abandoned"
        metrics.MENU_OUTCOMES.labels(outcome).inc()
        log.info(
            "menu_call_ended",
            extra=fields(
                tenant=call.tenant.id,
                device=call.device,
                code=call.what.kind,
                # Only an extension that matched a user (never what was typed).
                extension=call.conversation.extension if call.conversation else "",
                outcome=outcome,
                dtmf=",".join(sorted(call.dtmf_methods)),
                rtp_packets=call.media.packets_sent,
            ),
        )
