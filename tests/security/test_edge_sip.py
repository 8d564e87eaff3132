"""The SIP edge against the outside, with Python phones that build every
byte (tests.support.sip_phone): a replayed REGISTER, in-dialog requests
along a foreign Route or in a call nobody set up, identity headers forged
by a phone, resync NOTIFYs that would reboot phones, oversized requests,
and phones on TCP and TLS."""

import re
import socket
from collections.abc import Iterator

import pytest

from services.sip.message import SipMessage, new_branch, new_tag, parse, response_to
from tests.support import pki
from tests.support.demo import DOMAIN, secret
from tests.support.edge import Edge
from tests.support.fleet import PUSH_HOST
from tests.support.sip_phone import SipPhone, Transport

OUTSIDE = "+493099999999"
ALICE_DID = "+4930123451001"


def phone(edge: Edge, device: str, transport: Transport = "udp", **kw: str) -> SipPhone:
    port = edge.kamailio.tls_port if transport == "tls" else edge.kamailio.sip_port
    return SipPhone(
        ("127.0.0.1", port),
        device,
        kw.get("password", secret(device)),
        transport=transport,
        local_ip=kw.get("local_ip", "127.0.0.1"),
        ca=pki.credentials("sip:edge").ca,
    )


class Gateway:
    """A raw UDP socket where the edge sends calls (the demo's PSTN gateway
    port, or any port a forged Route names)."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port: int = self.sock.getsockname()[1]
        self.tag = new_tag()

    def receive(self, timeout: float = 5.0) -> tuple[SipMessage, tuple[str, int]]:
        self.sock.settimeout(timeout)
        while True:
            data, addr = self.sock.recvfrom(65535)
            message = parse(data)
            if message.is_request:
                return message, addr

    def nothing_arrives(self, within: float = 1.0) -> bool:
        try:
            self.receive(within)
        except TimeoutError:
            return True
        return False

    def answer(self, request: SipMessage, addr: tuple[str, int], status: int, reason: str) -> None:
        answer = response_to(request, status, reason, self.tag)
        answer.headers.append(("contact", f"<sip:gw@127.0.0.1:{self.port}>"))
        self.sock.sendto(answer.to_bytes(), addr)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def pstn(edge: Edge) -> Iterator[Gateway]:
    gateway = Gateway(edge.pstn_port)
    yield gateway
    gateway.close()


# --- digest that cannot be replayed ------------------------------------------


def test_a_replayed_register_is_refused(edge: Edge) -> None:
    """A captured REGISTER sent again (new branch, the attacker's Contact:
    neither is covered by the digest) is challenged anew (stale), never
    saved; before qop and nonce counts it was answered 200."""
    with phone(edge, "hd3002") as victim:
        assert victim.register().status == 200
        captured = victim.last_sent
    assert "qop=auth" in captured["authorization"]
    replay = SipMessage(
        captured.start_line,
        [(name, value) for name, value in captured.headers if name not in ("via", "contact")],
        captured.body,
    )
    with phone(edge, "hd3002", password="unknown") as attacker:
        host, port = attacker.local
        replay.headers.insert(0, ("via", f"SIP/2.0/UDP {host}:{port};rport;branch={new_branch()}"))
        replay.headers.append(("contact", f"<sip:evil@{host}:{port}>"))
        answer = attacker.transaction(replay)
    assert answer.status == 401
    assert "stale=true" in answer["www-authenticate"].replace(" ", "").lower()


def test_a_desk_keeps_at_most_two_contacts_the_newest(edge: Edge) -> None:
    """A third registration of a device replaces the oldest one: a call to
    the desk rings the two newest contacts only."""
    edge.login("hd3002", "1002")
    phones = [phone(edge, "hd3002") for _ in range(3)]
    try:
        for p in phones:
            assert p.register().status == 200
        with phone(edge, "hd3001") as caller:
            edge.login("hd3001", "1001")
            invite = caller.request("INVITE", f"sip:1002@{DOMAIN}", body=_sdp())
            caller.send(caller.authorized(invite, caller.transaction(invite)))
            rung: list[SipMessage | None] = []
            for p in phones:
                try:
                    ringing = p.wait_for_request("INVITE", timeout=3)
                except TimeoutError:
                    rung.append(None)
                else:
                    rung.append(ringing)
                    p.respond(ringing, 486, "Busy Here")
        assert rung[0] is None, "the oldest contact was replaced"
        assert rung[1] is not None and rung[2] is not None
    finally:
        for p in phones:
            p.close()


# --- in-dialog requests --------------------------------------------------------


def _bye(p: SipPhone, route: str, request_uri: str) -> SipMessage:
    bye = p.request("BYE", request_uri, to_tag=new_tag(), call_id=f"{new_tag()}@forged")
    bye.headers.insert(1, ("route", route))
    return bye


def test_a_bye_along_a_foreign_route_is_not_relayed(edge: Edge) -> None:
    """An unknown source names another hop (a gateway, the voice menu, a
    phone's NAT binding) as the first Route of an in-dialog request: 403,
    and nothing reaches that hop."""
    target = Gateway()
    try:
        with phone(edge, "nobody") as stranger:
            answer = stranger.transaction(
                _bye(
                    stranger, f"<sip:127.0.0.1:{target.port};lr>", f"sip:x@127.0.0.1:{target.port}"
                )
            )
        assert answer.status == 403
        assert target.nothing_arrives()
    finally:
        target.close()


def test_a_bye_in_a_call_this_edge_never_carried_is_not_relayed(edge: Edge) -> None:
    """The edge's own address as Route, but no dialog it knows: 481."""
    target = Gateway()
    try:
        with phone(edge, "nobody") as stranger:
            route = f"<sip:127.0.0.1:{edge.kamailio.sip_port};lr>"
            answer = stranger.transaction(_bye(stranger, route, f"sip:x@127.0.0.1:{target.port}"))
        assert answer.status == 481
        assert target.nothing_arrives()
    finally:
        target.close()


def _sdp() -> str:
    return (
        "v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0\r\n"
    )


FORGED = [
    ("p-asserted-identity", "<sip:+15550100@evil.example>"),
    ("p-preferred-identity", "<sip:+15550101@evil.example>"),
    ("remote-party-id", "<sip:+15550102@evil.example>;party=calling"),
    ("diversion", "<sip:+15550103@evil.example>;reason=unconditional"),
    ("history-info", "<sip:+15550104@evil.example>;index=1"),
    ("identity", "forged.jwt.value;info=<https://evil.example/cert>"),
    ("x-hotdesk-device", "hd3003;src=127.0.0.1;ts=1;sig=00"),
    ("x-anything", "made up by the phone"),
]


def _forged_values(message: SipMessage) -> list[str]:
    text = message.to_bytes().decode(errors="replace").lower()
    return [value for _, value in FORGED if value.lower() in text]


def test_identity_a_phone_makes_up_never_reaches_a_gateway(edge: Edge, pstn: Gateway) -> None:
    """Every identity header a phone writes, and anything the allow-list
    does not name, is gone from the INVITE the gateway gets, and from a BYE
    inside the call; the edge's own P-Asserted-Identity is there."""
    edge.login("hd3001", "1001")
    with phone(edge, "hd3001") as alice:
        invite = alice.request("INVITE", f"sip:{OUTSIDE}@{DOMAIN}", headers=FORGED, body=_sdp())
        invite = alice.authorized(invite, alice.transaction(invite))
        alice.send(invite)
        arrived, addr = pstn.receive()
        assert arrived.method == "INVITE"
        assert _forged_values(arrived) == []
        assert arrived["p-asserted-identity"] == f'"Alice Example" <sip:{ALICE_DID}@{DOMAIN}>'
        pstn.answer(arrived, addr, 200, "OK")
        answer = alice.receive()
        while answer.is_request or answer.status < 200:
            answer = alice.receive()
        assert answer.status == 200
        alice.send(alice.in_dialog("ACK", invite, answer))
        alice.send(alice.in_dialog("BYE", invite, answer, FORGED))
        bye = pstn.receive()[0]
        while bye.method != "BYE":
            bye = pstn.receive()[0]
        assert _forged_values(bye) == []


# --- check-sync pushes -----------------------------------------------------------


def _notify(event: str, source: str, port: int) -> socket.socket:
    """Send a check-sync NOTIFY for hd3002 with ``event`` from ``source`` to
    the edge's ``port``; the socket its answer comes back to."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    host, local = sock.getsockname()
    notify = SipMessage(
        f"NOTIFY sip:hd3002@{DOMAIN} SIP/2.0",
        [
            ("via", f"SIP/2.0/UDP {host}:{local};rport;branch={new_branch()}"),
            ("max-forwards", "70"),
            ("from", f"<sip:provision@{DOMAIN}>;tag={new_tag()}"),
            ("to", f"<sip:hd3002@{DOMAIN}>"),
            ("call-id", f"{new_tag()}@{host}"),
            ("cseq", "1 NOTIFY"),
            ("event", event),
            ("subscription-state", "terminated"),
        ],
    )
    sock.sendto(notify.to_bytes(), ("127.0.0.1", port))
    return sock


def _final_status(sock: socket.socket) -> int:
    sock.settimeout(3)
    try:
        while True:
            answer = parse(sock.recv(65535))
            if answer.status >= 200:
                return answer.status
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("event", "socket_name", "source", "status"),
    [
        ("check-sync;reboot=true", "push", PUSH_HOST, 489),
        ("check-sync;reboot=false;x", "push", PUSH_HOST, 489),
        ("check-syncx", "push", PUSH_HOST, 489),
        ("check-sync;reboot=false", "push", "127.0.0.1", 403),  # not the provision network
        ("check-sync;reboot=true", "sip", "127.0.0.1", 407),  # a phone: challenged
        ("check-sync;reboot=true", "sip", PUSH_HOST, 407),  # the phones' socket, whoever sends
        ("check-sync;reboot=false", "push", PUSH_HOST, 200),  # what the provision service sends
    ],
)
def test_only_a_plain_resync_from_the_provision_service_reaches_a_phone(
    edge: Edge, event: str, socket_name: str, source: str, status: int
) -> None:
    with phone(edge, "hd3002") as target:
        assert target.register().status == 200
        port = edge.kamailio.push_port if socket_name == "push" else edge.kamailio.sip_port
        sent = _notify(event, source, port)
        if status == 200:
            notify = target.wait_for_request("NOTIFY")
            assert notify["event"] == event
            target.respond(notify, 200, "OK")
            assert _final_status(sent) == 200
        else:
            assert _final_status(sent) == status
            with pytest.raises(TimeoutError):
                target.wait_for_request("NOTIFY", timeout=1)


# --- Kamailio's defensive defaults -----------------------------------------------


def test_an_oversized_request_is_refused_unread(edge: Edge) -> None:
    with phone(edge, "hd3001") as p:
        request = p.request("OPTIONS", f"sip:1002@{DOMAIN}", headers=[("x-pad", "a" * 20_000)])
        assert p.transaction(request).status == 513


def test_a_scanner_gets_no_answer(edge: Edge) -> None:
    with phone(edge, "hd3001") as p:
        request = p.request("OPTIONS", f"sip:100@{DOMAIN}")
        request.headers = [
            (n, "friendly-scanner" if n == "user-agent" else v) for n, v in request.headers
        ]
        with pytest.raises(TimeoutError):
            p.transaction(request, timeout=1.5)
        request = p.request("OPTIONS", f"sip:100@{DOMAIN}")
        assert p.transaction(request).status in (200, 407)  # the same socket, a phone's UA


# --- SIP over TCP and TLS ---------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_a_phone_on_a_stream_registers_calls_and_is_called(
    edge: Edge, pstn: Gateway, transport: Transport
) -> None:
    """A phone over TCP or TLS (verifying the edge's certificate) registers
    with qop digest, calls out, and a colleague's call reaches it over the
    connection it opened."""
    edge.login("hd3001", "1001")
    edge.login("hd3002", "1002")
    with phone(edge, "hd3001", transport) as alice, phone(edge, "hd3002") as bob:
        if transport == "tls":
            assert alice.tls_version in ("TLSv1.2", "TLSv1.3")
        assert alice.register().status == 200
        assert alice.last_sent["authorization"].count("qop=auth") == 1

        invite = alice.request("INVITE", f"sip:{OUTSIDE}@{DOMAIN}", body=_sdp())
        alice.send(alice.authorized(invite, alice.transaction(invite)))
        arrived, addr = pstn.receive()
        assert arrived.request_uri == f"sip:{OUTSIDE}@{DOMAIN}"
        pstn.answer(arrived, addr, 486, "Busy Here")
        answer = alice.receive()
        while answer.is_request or answer.status < 200:
            answer = alice.receive()
        assert answer.status == 486

        call = bob.request("INVITE", f"sip:1001@{DOMAIN}", body=_sdp())
        bob.send(bob.authorized(call, bob.transaction(call)))
        ringing = alice.wait_for_request("INVITE")
        assert re.search(rf"SIP/2.0/{transport.upper()} ", ringing["via"], re.IGNORECASE)
        assert ringing["p-asserted-identity"].endswith(f"<sip:+4930123451002@{DOMAIN}>")
        alice.respond(ringing, 486, "Busy Here")
        answer = bob.receive()
        while answer.is_request or answer.status < 200:
            answer = bob.receive()
        assert answer.status == 486
