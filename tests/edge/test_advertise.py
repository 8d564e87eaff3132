"""Via and Record-Route carry the address a node advertises (in Kubernetes
a name phones reach, never the pod's IP), and in-dialog requests sent there
come back to the node."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.demo import desk_call, register_desk
from tests.support.edge import Edge
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.sipp import answered

# Resolves to the loopback address the node listens on, and differs from it.
NAME = "localhost"


@pytest.fixture
def advertising(fresh_edge: Edge, tmp_path: Path) -> Iterator[KamailioServer]:
    node = fresh_edge.another_kamailio(tmp_path / "kamailio", tls=False, advertise_host=NAME)
    node.start()
    node.wait_for_peer_reload()
    try:
        yield node
    finally:
        node.stop()


def test_via_and_record_route_name_the_advertised_address(
    fresh_edge: Edge, advertising: KamailioServer
) -> None:
    edge = fresh_edge
    edge.login("hd3001", "1001")
    edge.login("hd3002", "1002")
    bob_port = free_udp_port()
    register_desk(
        advertising.sip_port,
        "hd3002",
        contact_port=bob_port,
        log_dir=edge.logs,
        name="hd3002-registers-advertised",
    )
    call = desk_call(
        advertising.sip_port,
        "hd3001",
        "1002",
        log_dir=edge.logs,
        name="alice-calls-through-advertising-node",
    )
    # Alice's ACK and BYE follow the Record-Route, i.e. the advertised name:
    # they reach the node and then Bob (his scenario waits for the BYE).
    bob = answered(call, edge.gateway("bob-behind-advertising-node", bob_port))
    (invite,) = bob.received("INVITE")
    advertised = f"{NAME}:{advertising.sip_port}"
    assert advertised in " ".join(invite.headers["record-route"])
    assert advertised in invite.headers["via"][0]
    assert "127.0.0.1" not in invite.headers["via"][0].split(";", 1)[0]
    assert bob.received("BYE")
