"""Peers that register instead of having a fixed address, and routes with
more than one gateway, through the real Kamailio."""

from collections.abc import Iterator

import pytest

from tests.support.demo import DOMAIN, demo_directory_text
from tests.support.edge import Edge
from tests.support.kamailio import free_udp_port
from tests.support.sipp import Sipp

PBX = """
  - name: acme-pbx                  # a PBX without a fixed address: it registers
    tenants: [acme]
    direction: both
    credentials: {username: acme-pbx, password: pbx-password-0001}
  - name: dead-gw                   # a gateway that is out of service
    tenants: [acme]
    direction: outbound
    destination: "sip:127.0.0.1:DEAD_PORT"
"""


@pytest.fixture
def pbx_edge(fresh_edge: Edge) -> Iterator[tuple[Edge, int]]:
    """The demo directory plus a registering PBX as acme's outbound peer and
    a dead gateway first in acme's emergency route; restored after."""
    demo = demo_directory_text(fresh_edge.gateways)
    dead_port = free_udp_port()
    text = demo.replace(
        "outbound_peer: demo-pstn        # calls to outside numbers",
        "outbound_peer: acme-pbx        # calls to outside numbers",
    ).replace(
        "emergency_route: [demo-emergency]   # emergency",
        "emergency_route: [dead-gw, demo-emergency]   # emergency",
    )
    fresh_edge.import_directory(text + PBX.replace("DEAD_PORT", str(dead_port)))
    try:
        yield fresh_edge, dead_port
    finally:
        fresh_edge.import_directory(demo)


def register_pbx(edge: Edge, local_port: int, contact_port: int) -> None:
    registration = Sipp(
        "register",
        edge.target,
        edge.logs,
        name=f"pbx-register-{local_port}",
        local_port=local_port,
        keys={"user": "acme-pbx", "domain": DOMAIN, "contact_port": str(contact_port)},
        auth=("acme-pbx", "pbx-password-0001"),
    )
    assert registration.run() == 0
    assert registration.final_status() == 200


def test_a_registered_pbx_calls_in_from_where_it_registered(
    pbx_edge: tuple[Edge, int],
) -> None:
    edge, _ = pbx_edge
    edge.login("hd3002", "1001")
    pbx_port = free_udp_port()
    before = edge.from_peer("pbx-before-register", "1001", local_port=pbx_port)
    assert before.run() == 0
    assert before.final_status() == 407  # not registered yet: a stranger
    register_pbx(edge, pbx_port, free_udp_port())
    phone = edge.phone("alice-desk-pbx", "hd3002")
    call = edge.from_peer("pbx-calls-alice", "1001", local_port=pbx_port)
    assert call.run() == 0
    assert call.final_status() == 200
    assert phone.wait() == 0
    (invite,) = phone.received("INVITE")
    assert (invite.header("From") or "").startswith('"Caller Outside"')
    # Registered again from elsewhere: the old address is a stranger again.
    register_pbx(edge, free_udp_port(), free_udp_port())
    stale = edge.from_peer("pbx-old-address", "1001", local_port=pbx_port)
    assert stale.run() == 0
    assert stale.final_status() == 407


def test_outside_calls_reach_the_registered_pbxs_contact(pbx_edge: tuple[Edge, int]) -> None:
    edge, _ = pbx_edge
    edge.login("hd3001", "1001")
    contact_port = free_udp_port()
    pbx = edge.gateway("pbx-answers", contact_port).start()
    try:
        register_pbx(edge, free_udp_port(), contact_port)
        call = edge.call("alice-calls-out-via-pbx", "hd3001", "+493099999999")
        assert call.run() == 0
        assert call.final_status() == 200
        assert pbx.wait() == 0
    finally:
        pbx.stop()
    # It arrived at the registered contact, the dialled number kept.
    (invite,) = pbx.received("INVITE")
    assert invite.start_line.startswith(f"INVITE sip:+493099999999@{DOMAIN} ")


def test_an_emergency_call_fails_over_to_the_next_gateway(pbx_edge: tuple[Edge, int]) -> None:
    edge, dead_port = pbx_edge
    dead = edge.gateway("dead-gw", dead_port, scenario="reject").start()
    alive = edge.gateway("emergency-after-failover", edge.emergency_port).start()
    failovers = edge.kamailio.counter("hotdesk_route_failovers_total")
    try:
        call = edge.call("idle-112-failover", "hd3001", "112")
        assert call.run() == 0
        assert call.final_status() == 200
        assert dead.wait() == 0
        assert alive.wait() == 0
    finally:
        dead.stop()
        alive.stop()
    assert edge.kamailio.counter("hotdesk_route_failovers_total") == failovers + 1
    (invite,) = alive.received("INVITE")
    assert invite.header("P-Asserted-Identity") == f"<sip:+4930123450100@{DOMAIN}>"
