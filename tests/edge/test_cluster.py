"""Three Kamailio nodes with the project's kamailio.cfg as one edge: they
share registrations and tables over DMQ, and a phone is always reached
through the node it registered with (Path). One Redis and one binding
service behind them (the module's edge)."""

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.demo import DOMAIN, desk_call, register_desk
from tests.support.edge import Edge
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.lamps import answered_and_ended, call_id, call_states, watch
from tests.support.sipp import Sipp, answered
from tests.support.waiting import wait_for

CALLBACK_NUMBER = "+4930123450100"


class Cluster:
    def __init__(self, edge: Edge, root: Path) -> None:
        self.edge = edge
        ports = [free_udp_port() for _ in range(3)]
        self.nodes = [
            edge.another_kamailio(
                root / f"node-{name}",
                emergency_gw=f"sip:127.0.0.1:{edge.emergency_port}",
                tls=False,
                dmq_port=port,
                dmq_peers=tuple(p for p in ports if p != port),
            )
            for name, port in zip("abc", ports, strict=True)
        ]

    def target(self, node: KamailioServer) -> str:
        return f"127.0.0.1:{node.sip_port}"

    def all_started(self) -> list[KamailioServer]:
        for node in self.nodes:
            if node.proc is None:
                started(node)
        return self.nodes

    def register(self, node: KamailioServer, device: str, contact_port: int) -> None:
        register_desk(
            node.sip_port,
            device,
            contact_port=contact_port,
            log_dir=self.edge.logs,
            name=f"{device}-registers-at-{node.sip_port}",
        )

    def call(self, node: KamailioServer, name: str, device: str, number: str) -> Sipp:
        return desk_call(node.sip_port, device, number, log_dir=self.edge.logs, name=name)

    def from_peer(self, node: KamailioServer, name: str, number: str) -> Sipp:
        return Sipp(
            "peer_call",
            self.target(node),
            self.edge.logs,
            name=name,
            local_port=self.edge.peer_port,
            service=number,
            keys={"domain": DOMAIN, "caller": "+4915112345678", "extra_header": "X-Test: none"},
        )


@pytest.fixture(scope="module")
def cluster(edge: Edge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(edge, tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        for node in c.nodes:
            node.stop()


def through(
    node: KamailioServer, device: str, contact_port: int, registrar: KamailioServer
) -> bool:
    """Whether ``node`` has the contact of ``device`` at ``contact_port``
    registered through ``registrar`` (its Path: the registrar's address)."""
    contacts = node.rpc("ul.lookup", "location", f"{device}@{DOMAIN}").split("Contact: {")
    address = f"Address: sip:{device}@127.0.0.1:{contact_port}\n"
    path = f"Path: <sip:127.0.0.1:{registrar.sip_port};"
    return any(address in contact and path in contact for contact in contacts)


def started(node: KamailioServer) -> KamailioServer:
    node.start()
    node.wait_for_peer_reload()
    return node


def test_a_phone_registered_at_one_node_is_called_through_the_others(
    fresh_edge: Edge, cluster: Cluster
) -> None:
    edge = fresh_edge
    a, b, c = cluster.nodes
    started(a)
    started(b)
    edge.login("hd3001", "1001")
    edge.login("hd3002", "1002")
    bob_port = free_udp_port()
    cluster.register(a, "hd3002", bob_port)
    # C joins late: it gets A's registrations from B or A.
    started(c)
    call = cluster.call(c, "alice-via-c", "hd3001", "1002")
    (invite,) = answered(call, edge.gateway("bob-desk-at-a", bob_port)).received("INVITE")
    # Alice's identity, and the way in through C, then A (Bob's node).
    assert (invite.header("From") or "").startswith('"Alice Example" <sip:1001@')
    record_routes = " ".join(invite.headers["record-route"])
    assert f"127.0.0.1:{a.sip_port}" in record_routes
    assert f"127.0.0.1:{c.sip_port}" in record_routes
    # Through A itself: straight to Bob's Contact.
    call = cluster.call(a, "alice-via-a", "hd3001", "1002")
    (invite,) = answered(call, edge.gateway("bob-desk-again", bob_port)).received("INVITE")
    assert f"127.0.0.1:{c.sip_port}" not in " ".join(invite.headers["record-route"])


def test_a_dead_nodes_phones_are_reached_once_they_register_at_another(
    fresh_edge: Edge, cluster: Cluster
) -> None:
    """A dies with Bob's desk registered through it; the phone registers
    again (its next refresh, or its DNS SRV fail-over) at B: a call entering
    at C rings it through B. (Bob at hd3003: hd3002 keeps a contact through
    A from the first test.)"""
    edge = fresh_edge
    a, b, c = cluster.all_started()
    edge.login("hd3001", "1001")
    edge.login("hd3003", "1002")
    bob_port = free_udp_port()
    cluster.register(a, "hd3003", bob_port)
    # A phone registered before its node died: every node had heard of it (A's
    # 200 is no promise of that: DMQ is asynchronous).
    wait_for(
        lambda: all(through(n, "hd3003", bob_port, a) for n in (b, c)),
        "registration of hd3003 through A at B and C",
    )
    a.kill()
    cluster.register(b, "hd3003", bob_port)
    wait_for(
        lambda: through(c, "hd3003", bob_port, b) and not through(c, "hd3003", bob_port, a),
        "registration of hd3003 through B at C",
    )
    call = cluster.call(c, "alice-via-c-after-a-died", "hd3001", "1002")
    bob = answered(call, edge.gateway("bob-desk-after-a-died", bob_port))
    (invite,) = bob.received("INVITE")
    record_routes = " ".join(invite.headers["record-route"])
    assert f"127.0.0.1:{b.sip_port}" in record_routes
    assert f"127.0.0.1:{a.sip_port}" not in record_routes


def test_emergency_data_and_callbacks_are_shared(fresh_edge: Edge, cluster: Cluster) -> None:
    """hd3001 registers at A, dials 112 through B; the PSAP's callback
    enters at C and rings hd3001 (through A)."""
    edge = fresh_edge
    a, b, c = cluster.all_started()
    desk_port = free_udp_port()
    desk = edge.gateway("hd3001-awaiting-callback", desk_port).start()
    try:
        cluster.register(a, "hd3001", desk_port)
        gateway = edge.gateway("psap-via-b", edge.emergency_port).start()
        try:
            emergency = cluster.call(b, "idle-hd3001-112-via-b", "hd3001", "112")
            assert emergency.run() == 0
            assert emergency.final_status() == 200
            assert gateway.wait() == 0
        finally:
            gateway.stop()
        deadline = time.monotonic() + 5
        while c.counter("hotdesk_emergency_callbacks_total") == 0:
            callback = cluster.from_peer(c, "psap-calls-back-via-c", CALLBACK_NUMBER)
            assert callback.run() == 0
            if callback.final_status() == 200:
                break
            assert time.monotonic() < deadline, f"no callback: {callback.final_status()}"
            time.sleep(0.2)
        assert desk.wait() == 0
    finally:
        desk.stop()
    (invite,) = desk.received("INVITE")
    assert invite.start_line.startswith("INVITE sip:hd3001@")
    assert c.counter("hotdesk_emergency_callbacks_total") == 1


def _request(method: str, local_port: int, route: str) -> bytes:
    return (
        f"{method} sip:hd3002@127.0.0.1:5999 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-node-{method}\r\n"
        "Max-Forwards: 70\r\n"
        f"Route: {route}\r\n"
        "From: <sip:hd3001@hotdesk.local>;tag=n1\r\n"
        "To: <sip:hd3002@hotdesk.local>\r\n"
        f"Call-ID: pretends-to-be-a-node-{method}@127.0.0.1\r\n"
        f"CSeq: 1 {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _status(to_port: int, data: bytes, port: int) -> str:
    """The status line of what 127.0.0.1:``to_port`` answers ``data`` sent
    from ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.settimeout(5)
        sock.sendto(data, ("127.0.0.1", to_port))
        return sock.recv(4096).decode().split("\r\n", 1)[0]


def test_only_nodes_are_trusted_as_nodes(fresh_edge: Edge, cluster: Cluster) -> None:
    """A request with the Route another node would preload, from anywhere
    but a node's DMQ socket, is a stranger's (challenged); KDMQ is taken
    only on the DMQ socket."""
    a = cluster.nodes[0]
    if a.proc is None:
        started(a)
    route = f"<sip:127.0.0.1:{a.sip_port};lr;hdnode>"
    port = free_udp_port()
    assert _status(a.sip_port, _request("INVITE", port, route), port).startswith("SIP/2.0 407")
    port = free_udp_port()
    assert _status(a.sip_port, _request("KDMQ", port, route), port) == "SIP/2.0 403 Forbidden"


def test_a_lamp_at_one_node_shows_a_call_through_another(
    fresh_edge: Edge, cluster: Cluster
) -> None:
    """A lamp on Bob (1002) subscribes at A; Alice calls him through B, where
    his phone registered. B publishes the call's states for a user watched
    at another node and sends them there: the lamp at A shows the call
    confirmed, then terminated."""
    edge = fresh_edge
    a, b, _ = cluster.all_started()
    for node in cluster.nodes:  # hd3002's contacts of the tests before
        node.rpc("ul.rm", "location", f"hd3002@{DOMAIN}")
    edge.login("hd3001", "1001")
    edge.login("hd3002", "1002")
    bob = f"sip:1002@{DOMAIN}"
    sent_to_a = a.counter("hotdesk_blf_from_nodes_total")
    lamp = watch(edge, "lamp-on-1002-at-a", "1002", via=a)
    phone = edge.phone("bob-desk-at-b", "hd3002", via=b)
    try:
        wait_for(
            lambda: "value: 1" in b.rpc("htable.get", "blfwatch", bob),
            "lamp on 1002 known at B",
        )
        call = edge.call("alice-calls-bob-via-b", "hd3001", "1002", via=b)
        answered_and_ended(call, phone, lamp)
    finally:
        phone.stop()
        lamp.stop()
    states = call_states(lamp.received("NOTIFY"), bob, call_id(call))
    assert "confirmed" in states, states
    assert states[-1] == "terminated", states
    assert a.counter("hotdesk_blf_from_nodes_total") > sent_to_a


def _lamp_state(node: KamailioServer, entity: str, call: str, state: str) -> None:
    """What another node sends ``node`` for one state of a call (KDMQ to
    peer hdblf, from the nodes' network), answered 200."""
    body = json.dumps(
        {
            "Event-Name": "update",
            "Event-Package": "dialog",
            "From": entity,
            "From-User": entity.removeprefix("sip:").split("@")[0],
            "From-Realm": DOMAIN,
            "Direction": "recipient",
            "State": state,
            "Expires": 60,
            "To": f"sip:1001@{DOMAIN}",
            "To-User": "1001",
            "Call-ID": call,
        }
    )
    dmq = (node.addresses.dmq_listen or "").removeprefix("udp:")
    port = free_udp_port()
    request = (
        f"KDMQ sip:hdblf@{dmq} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call}-{state}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:hdblf@127.0.0.1:{port}>;tag={state}\r\n"
        f"To: <sip:hdblf@{dmq}>\r\n"
        f"Call-ID: {call}-{state}@127.0.0.1\r\n"
        "CSeq: 1 KDMQ\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    dmq_port = int(dmq.rsplit(":", 1)[1])
    assert _status(dmq_port, request.encode(), port).startswith("SIP/2.0 200 "), call


def test_a_lamp_state_that_overtakes_its_calls_end_is_dropped(
    fresh_edge: Edge, cluster: Cluster
) -> None:
    """Another node's "confirmed" for a call arrives after its "terminated"
    (two messages overtook each other): the lamp shows the call ended, and
    never lit again by the late state."""
    edge = fresh_edge
    a, _, _ = cluster.all_started()
    bob = f"sip:1002@{DOMAIN}"
    lamp = watch(edge, "lamp-on-1002-overtaken", "1002", via=a)
    try:
        _lamp_state(a, bob, "overtaken", "terminated")
        _lamp_state(a, bob, "overtaken", "confirmed")
        # A later call's state: once the lamp shows it, the late one would
        # have shown before it.
        _lamp_state(a, bob, "next-call", "confirmed")
        wait_for(
            lambda: any("next-call" in m.body for m in lamp.received("NOTIFY")),
            "the next call at the lamp",
        )
    finally:
        lamp.stop()
    # (The ended call stays in the next NOTIFYs while its state lives.)
    states = call_states(lamp.received("NOTIFY"), bob, "overtaken")
    assert states and set(states) == {"terminated"}, states
