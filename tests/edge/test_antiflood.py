"""Flood protection: a source sending too fast is banned (and answered
nothing) for the ban's lifetime."""

import time
from pathlib import Path

from tests.support.edge import Edge
from tests.support.flood import burst
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.sipp import Sipp


def test_a_flooding_source_is_banned(guarded_edge: KamailioServer, tmp_path: Path) -> None:
    burst(guarded_edge)
    deadline = time.monotonic() + 5  # the workers may still be reading the burst
    while "pike: banning 127.0.0.1" not in guarded_edge.log and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "pike: banning 127.0.0.1" in guarded_edge.log
    # Banned now: a well-formed REGISTER from the same address gets no answer.
    register = Sipp(
        "register",
        f"127.0.0.1:{guarded_edge.sip_port}",
        tmp_path,
        name="banned",
        local_port=free_udp_port(),
        keys={"user": "hd3001", "domain": "hotdesk.local", "contact_port": "5999"},
        auth=("hd3001", "demo-secret-hd3001"),
        timeout_s=3,
    )
    register.run()
    assert register.received(401) == []
    assert register.final_status() is None


def test_a_trunk_is_never_banned(guarded_edge: KamailioServer, edge: Edge, tmp_path: Path) -> None:
    """The demo PSTN peer's burst is answered in full and bans nobody; and
    when a phone on the same address floods, the peer is still served."""
    assert burst(guarded_edge, edge.peer_port) == 300
    assert "pike: banning" not in guarded_edge.log
    burst(guarded_edge)  # a phone, from another port of 127.0.0.1
    deadline = time.monotonic() + 5
    while "pike: banning 127.0.0.1" not in guarded_edge.log and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "pike: banning 127.0.0.1" in guarded_edge.log
    assert burst(guarded_edge, edge.peer_port, n=10) == 10
