"""Emergency calls through the real edge: the desk's location by value
(PIDF-LO, validated against the RFC schemas) and callback number, routes
per country, callbacks that ring the desk, on-site notification, and calls
that still go out from a banned address, without Redis and without the
binding service."""

import hashlib
import hmac
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from hotdesk.v1 import binding_pb2 as pb

from services.kernel import keys
from tests.support.demo import DOMAIN, demo_directory_text
from tests.support.edge import Edge
from tests.support.flood import burst
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.pidf_lo import civic_address, point, validated_pidf_lo
from tests.support.sipp import SipMessage, Sipp

CALLBACK_NUMBER = "+4930123450100"  # the acme desks' emergency caller ID


def location_of(invite: SipMessage) -> dict[str, str]:
    """The civic address of the PIDF-LO part the Geolocation header names,
    after checking the multipart body around it (RFC 6442)."""
    geolocation = invite.header("Geolocation") or ""
    assert geolocation.startswith("<cid:") and geolocation.endswith(">"), geolocation
    content_id = geolocation[len("<cid:") : -1]
    content_type = invite.header("Content-Type") or ""
    assert content_type.startswith("multipart/mixed;boundary="), content_type
    boundary = content_type.split("boundary=", 1)[1]
    parts = invite.body.split("--" + boundary)
    assert parts[-1].strip() == "--", "the body ends with the closing delimiter"
    by_type: dict[str, tuple[dict[str, str], str]] = {}
    for part in parts[1:-1]:
        head, _, content = part.strip("\n").partition("\n\n")
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in head.splitlines())
        )
        by_type[headers["content-type"]] = (headers, content)
    assert by_type.keys() == {"application/sdp", "application/pidf+xml"}
    assert by_type["application/sdp"][1].startswith("v=0")
    headers, pidf = by_type["application/pidf+xml"]
    assert headers["content-id"] == f"<{content_id}>"
    root = validated_pidf_lo(pidf.encode())
    assert root.get("entity") == f"pres:{invite_device(invite)}@{DOMAIN}"
    return civic_address(root)


def invite_device(invite: SipMessage) -> str:
    """The device an emergency INVITE came from (in its PIDF-LO entity)."""
    body = invite.body
    start = body.index('entity="pres:') + len('entity="pres:')
    return body[start : body.index("@", start)]


def emergency_call(edge: Edge, name: str, device: str) -> SipMessage:
    """``device`` dials 112; the INVITE the emergency gateway received."""
    return edge.arrival(f"{name}-gw", edge.emergency_port, edge.call(name, device, "112"))


def test_an_emergency_call_carries_the_desks_location_and_callback_number(
    fresh_edge: Edge,
) -> None:
    invite = emergency_call(fresh_edge, "idle-desk-112", "hd3001")
    assert invite.header("P-Asserted-Identity") == f"<sip:{CALLBACK_NUMBER}@{DOMAIN}>"
    assert f"<sip:{CALLBACK_NUMBER}@{DOMAIN}>" in (invite.header("From") or "")
    assert invite.header("Geolocation-Routing") == "yes"
    # The tenant's address with the desk's own floor and room.
    assert location_of(invite) == {
        "country": "DE",
        "A1": "Berlin",
        "A3": "Berlin",
        "RD": "Friedrichstraße",
        "HNO": "123",
        "FLR": "3",
        "NAM": "Acme GmbH",
        "PC": "10117",
        "ROOM": "3.14",
    }


def test_a_desk_with_coordinates_sends_them_too(fresh_edge: Edge) -> None:
    invite = emergency_call(fresh_edge, "desk-with-coordinates", "hd3003")
    assert location_of(invite)["ROOM"] == "2.01"
    assert point(validated_pidf_lo(_pidf(invite))) == (52.5074, 13.3904)


def _pidf(invite: SipMessage) -> bytes:
    start = invite.body.index("<?xml")
    end = invite.body.index("</presence>") + len("</presence>")
    return invite.body[start:end].encode()


def test_a_session_location_goes_out_until_the_session_ends(fresh_edge: Edge) -> None:
    edge = fresh_edge
    edge.login("hd3002", "1001")
    answer = edge.stub().SetSessionLocation(
        pb.SetSessionLocationRequest(
            device_id="hd3002", location_json='{"floor": "5", "room": "5.01"}'
        )
    )
    assert answer.result == pb.SESSION_LOCATION_RESULT_SET
    moved = location_of(emergency_call(edge, "moved-desk-112", "hd3002"))
    # The session's floor and room over the desk's site (East wing).
    assert (moved["BLD"], moved["FLR"], moved["ROOM"]) == ("East wing", "5", "5.01")
    with redis.Redis.from_url(edge.redis.url, decode_responses=True) as client:
        entries = client.xrange(keys.audit("acme-group"))
    (audit,) = [fields for _, fields in entries if fields["event"] == "session_location"]
    assert audit["device"] == "hd3002" and audit["user"] == "acme/1001"
    assert "floor 5, room 5.01" in audit["location"]
    edge.logout_all()
    back = location_of(emergency_call(edge, "desk-112-after-logout", "hd3002"))
    assert (back["FLR"], back["ROOM"]) == ("1", "1.07")


def test_a_session_location_needs_a_session(fresh_edge: Edge) -> None:
    answer = fresh_edge.stub().SetSessionLocation(
        pb.SetSessionLocationRequest(device_id="hd3001", location_json='{"floor": "9"}')
    )
    assert answer.result == pb.SESSION_LOCATION_RESULT_NO_SESSION


UK_PSAP = """
  - name: uk-psap
    tenants: [globex]
    direction: outbound
    destination: "sip:127.0.0.1:UK_PORT"
"""


@pytest.fixture
def by_country(fresh_edge: Edge) -> Iterator[int]:
    """globex's desks in GB call through their own gateway (the port)."""
    demo = demo_directory_text(fresh_edge.gateways)
    port = free_udp_port()
    text = demo.replace(
        "    outbound_peer: demo-pstn\n    emergency_route: [demo-emergency]\n",
        "    outbound_peer: demo-pstn\n    emergency_route: [demo-emergency]\n"
        "    emergency_routes: {GB: [uk-psap]}\n",
    )
    assert text != demo
    fresh_edge.import_directory(text + UK_PSAP.replace("UK_PORT", str(port)))
    try:
        yield port
    finally:
        fresh_edge.import_directory(demo)


def test_the_route_follows_the_desks_country(fresh_edge: Edge, by_country: int) -> None:
    call = fresh_edge.from_phone(
        "gb-desk-112",
        "gx4001",
        "call",
        "112",
        domain="globex.local",
        target_domain="globex.local",
        keys={"extra_header": "X-Test: none"},
    )
    received = fresh_edge.arrival("uk-psap", by_country, call)
    assert received.header("P-Asserted-Identity") == "<sip:+442071234000@globex.local>"
    assert "London" in received.body and "<ca:country>GB</ca:country>" in received.body


def called_back(edge: Edge, desk: Sipp, name: str, via: KamailioServer | None = None) -> None:
    """The emergency service calls the callback number back (through
    ``via``, else the edge's Kamailio): hd3001's ``desk`` rings and answers
    (and is stopped)."""
    try:
        callback = edge.from_peer(name, CALLBACK_NUMBER, via=via)
        assert callback.run() == 0
        assert callback.final_status() == 200
        assert desk.wait() == 0
    finally:
        desk.stop()
    (invite,) = desk.received("INVITE")
    assert invite.start_line.startswith("INVITE sip:hd3001@")


def test_a_callback_rings_the_desk_that_called_whoever_is_on_it(fresh_edge: Edge) -> None:
    edge = fresh_edge
    desk = edge.phone("desk-awaiting-callback", "hd3001")
    try:
        before = edge.from_peer("callback-before-any-112", CALLBACK_NUMBER)
        assert before.run() == 0
        assert before.final_status() == 404  # nobody's DID
        emergency_call(edge, "idle-desk-112-callback", "hd3001")
    except BaseException:
        desk.stop()
        raise
    callbacks = edge.kamailio.counter("hotdesk_emergency_callbacks_total")
    called_back(edge, desk, "psap-calls-back")
    assert edge.kamailio.counter("hotdesk_emergency_callbacks_total") == callbacks + 1


class _Webhook(BaseHTTPRequestHandler):
    """Records each POST; answers only once ``release`` is set (or after
    10 s), so that a call that waited for it would show."""

    received: list[tuple[dict[str, str], bytes]] = []
    release = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.release.wait(10)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def on_site(fresh_edge: Edge) -> Iterator[tuple[Sipp, type[_Webhook]]]:
    """acme's notifications go to a security desk (a SIP endpoint taking
    MESSAGEs) and a webhook, both here."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Webhook.received = []
    _Webhook.release = threading.Event()
    security_port = free_udp_port()
    security = fresh_edge.gateway("security-desk", security_port, scenario="accept").start()
    demo = demo_directory_text(fresh_edge.gateways)
    text = demo.replace(
        "sip:security@127.0.0.1:5093", f"sip:security@127.0.0.1:{security_port}"
    ).replace("http://127.0.0.1:5094/emergency", f"http://127.0.0.1:{server.server_port}/e")
    fresh_edge.import_directory(text)
    try:
        yield security, _Webhook
    finally:
        _Webhook.release.set()
        security.stop()
        server.shutdown()
        fresh_edge.import_directory(demo)


def test_on_site_staff_are_told_at_once(
    fresh_edge: Edge, on_site: tuple[Sipp, type[_Webhook]]
) -> None:
    edge = fresh_edge
    security, webhook = on_site
    edge.login("hd3001", "1001")
    told = edge.kamailio.counter("hotdesk_emergency_notifications_total")
    failed = edge.kamailio.counter("hotdesk_emergency_notify_failures_total")
    # The webhook answers only after the call is through: had the call
    # waited for it, the webhook would have timed out (a failure).
    emergency_call(edge, "alice-112-on-site", "hd3001")
    webhook.release.set()
    assert security.wait() == 0
    (message,) = security.received("MESSAGE")
    assert message.header("Content-Type") == "text/plain;charset=utf-8"
    text = message.body
    assert text.startswith("EMERGENCY CALL to 112 from desk hd3001 at Friedrichstraße 123")
    assert "floor 3, room 3.14" in text and "user: Alice Example (1001)" in text
    assert f"callback {CALLBACK_NUMBER}" in text
    deadline = time.monotonic() + 10
    while edge.kamailio.counter("hotdesk_emergency_notifications_total") < told + 2:
        assert time.monotonic() < deadline, "the webhook's answer was not counted"
        time.sleep(0.1)
    assert edge.kamailio.counter("hotdesk_emergency_notify_failures_total") == failed
    ((headers, body),) = webhook.received
    assert headers["Content-Type"] == "application/json"
    # Signed with acme's key (the demo directory's): the receiver can tell.
    key = b"demo-webhook-key-0123456789abcdef"
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    assert headers["X-Hotdesk-Signature"] == f"sha256={expected}"
    event = json.loads(body)
    assert event["event"] == "emergency_call"
    assert (event["tenant"], event["device"], event["dialled"]) == ("acme", "hd3001", "112")
    assert event["callback_number"] == CALLBACK_NUMBER
    assert event["user"] == {"extension": "1001", "name": "Alice Example"}
    assert (event["location"]["floor"], event["location"]["room"]) == ("3", "3.14")
    assert event["time"].endswith("Z") and event["call_id"]


def test_an_emergency_call_passes_a_flood_ban(
    fresh_edge: Edge, guarded_edge: KamailioServer, tmp_path: Path
) -> None:
    guarded = guarded_edge
    burst(guarded)
    deadline = time.monotonic() + 5
    while "pike: banning 127.0.0.1" not in guarded.log:
        assert time.monotonic() < deadline, "the burst was not banned"
        time.sleep(0.1)
    call = Sipp(
        "call",
        f"127.0.0.1:{guarded.sip_port}",
        tmp_path,
        name="banned-office-112",
        local_port=free_udp_port(),
        service="112",
        keys={"user": "hd3001", "domain": DOMAIN, "extra_header": "X-Test: none"},
        auth=("hd3001", "demo-secret-hd3001"),
    )
    invite = fresh_edge.arrival("gw-behind-ban", fresh_edge.emergency_port, call)
    assert invite.header("P-Asserted-Identity") == f"<sip:{CALLBACK_NUMBER}@{DOMAIN}>"
    assert location_of(invite)["ROOM"] == "3.14"
    # Anything else from the banned address is still dropped.
    options = Sipp(
        "call",
        f"127.0.0.1:{guarded.sip_port}",
        tmp_path,
        name="banned-office-other-call",
        local_port=free_udp_port(),
        service="1002",
        keys={"user": "hd3001", "domain": DOMAIN, "target_domain": DOMAIN},
        auth=("hd3001", "demo-secret-hd3001"),
        timeout_s=3,
    )
    options.run()
    assert options.final_status() is None


def test_an_emergency_call_goes_out_without_the_binding_service(fresh_edge: Edge) -> None:
    edge = fresh_edge
    from_cache = edge.kamailio.counter("hotdesk_emergency_from_cache_total")
    edge.binding.stop()
    try:
        invite = emergency_call(edge, "112-without-binding", "hd3001")
    finally:
        edge.binding.start()
    assert edge.kamailio.counter("hotdesk_emergency_from_cache_total") == from_cache + 1
    assert invite.header("P-Asserted-Identity") == f"<sip:{CALLBACK_NUMBER}@{DOMAIN}>"
    assert location_of(invite)["ROOM"] == "3.14"


def test_an_emergency_call_goes_out_without_redis(fresh_edge: Edge) -> None:
    edge = fresh_edge
    # Registered while Redis was there: the edge keeps what the desk needs.
    registered = edge.register("hd3003-before-outage", "hd3003", contact_port=free_udp_port())
    assert registered.run() == 0 and registered.final_status() == 200
    cached_auth = edge.kamailio.counter("hotdesk_emergency_cached_auth_total")
    edge.replica.stop()
    edge.redis.stop()
    try:
        invite = emergency_call(edge, "112-without-redis", "hd3003")
        # A desk phone renews its registration meanwhile; any other call
        # cannot be checked and is answered 503, not challenged forever.
        renewed = edge.register("hd3003-during-outage", "hd3003", contact_port=free_udp_port())
        assert renewed.run() == 0 and renewed.final_status() == 200
        other = edge.call("other-call-without-redis", "hd3003", "1002")
        other.run()
        assert other.final_status() == 503
        # A desk whose HA1 the edge does not keep cannot be checked: 503 and
        # try again later, never refused (nor counted as a failed digest).
        edge.kamailio.rpc("htable.delete", "emer", f"ha1:hd3002@{DOMAIN}")
        unavailable = edge.kamailio.counter("hotdesk_auth_unavailable_total")
        newcomer = edge.register("hd3002-during-outage", "hd3002", contact_port=free_udp_port())
        newcomer.run()
        assert newcomer.final_status() == 503
        assert edge.kamailio.counter("hotdesk_auth_unavailable_total") == unavailable + 1
    finally:
        edge.redis.start()
        edge.replica.start()
    # The call's digest and the renewal, against the kept HA1.
    assert edge.kamailio.counter("hotdesk_emergency_cached_auth_total") == cached_auth + 2
    assert invite.header("P-Asserted-Identity") == f"<sip:{CALLBACK_NUMBER}@{DOMAIN}>"
    assert location_of(invite)["ROOM"] == "2.01"
    # Redis back: an ordinary call goes through again.
    deadline = time.monotonic() + 20
    while True:
        again = edge.call("idle-desk-after-outage", "hd3003", "1002")
        again.run()
        if again.final_status() == 403:  # idle desk: the lookup answered
            break
        assert time.monotonic() < deadline, f"no lookup after the outage: {again.final_status()}"
        time.sleep(1)


def test_an_emergency_call_goes_out_while_redis_hangs(fresh_edge: Edge) -> None:
    """A Redis that takes connections but never answers (a frozen process):
    Kamailio's Redis commands time out (a new connection's AUTH too, with
    the patched ndb_redis) and the call goes out from what the edge keeps."""
    edge = fresh_edge
    registered = edge.register("hd3002-before-hang", "hd3002", contact_port=free_udp_port())
    assert registered.run() == 0 and registered.final_status() == 200
    frozen = [server.proc for server in (edge.replica, edge.redis) if server.proc is not None]
    for proc in frozen:
        proc.send_signal(signal.SIGSTOP)
    try:
        first = emergency_call(edge, "112-redis-frozen", "hd3002")
        # Again, once the first call's connection has timed out: this one
        # has to reconnect (and authenticate) to a Redis that does not answer.
        second = emergency_call(edge, "112-redis-still-frozen", "hd3002")
    finally:
        for proc in frozen:
            proc.send_signal(signal.SIGCONT)
    for invite in (first, second):
        assert invite.header("P-Asserted-Identity") == f"<sip:{CALLBACK_NUMBER}@{DOMAIN}>"
        assert location_of(invite)["ROOM"] == "1.07"


def test_no_callback_window_no_callback(fresh_edge: Edge) -> None:
    edge = fresh_edge
    demo = demo_directory_text(edge.gateways)
    text = demo.replace("emergency_callback_minutes: 60", "emergency_callback_minutes: 0")
    assert text != demo
    edge.import_directory(text)
    try:
        registered = edge.register("hd3001-no-window", "hd3001", contact_port=free_udp_port())
        assert registered.run() == 0 and registered.final_status() == 200
        emergency_call(edge, "112-without-callback-window", "hd3001")
        callback = edge.from_peer("psap-calls-back-too-late", "+4930123450100")
        assert callback.run() == 0
        assert callback.final_status() == 404  # an ordinary call: nobody's DID
    finally:
        edge.import_directory(demo)
