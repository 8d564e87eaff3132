"""Flood protection: a source sending too fast is banned (and answered
nothing) for the ban's lifetime."""

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.edge import Edge
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.sipp import Sipp


@pytest.fixture
def guarded_edge(edge: Edge, tmp_path: Path) -> Iterator[KamailioServer]:
    kamailio = KamailioServer(
        tmp_path / "kamailio",
        redis=edge.replica,
        binding_url=edge.binding.route_url,
        emergency_gw="sip:127.0.0.1:9",
        pstn_gw="sip:127.0.0.1:9",
        antiflood=True,
    )
    kamailio.start()
    kamailio.wait_for_peer_reload()
    yield kamailio
    kamailio.stop()


def _options(proxy_port: int, local_port: int, n: int) -> bytes:
    return (
        f"OPTIONS sip:127.0.0.1:{proxy_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-flood-{n}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:flood@127.0.0.1>;tag=f{n}\r\n"
        f"To: <sip:127.0.0.1:{proxy_port}>\r\n"
        f"Call-ID: flood-{n}@127.0.0.1\r\n"
        f"CSeq: {n + 1} OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _burst(kamailio: KamailioServer, local_port: int = 0, n: int = 300) -> int:
    """``n`` well-formed OPTIONS back to back (far over 40 per 2 s) from
    ``local_port``; how many were answered."""
    proxy = ("127.0.0.1", kamailio.sip_port)
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(("127.0.0.1", local_port))
        port = sock.getsockname()[1]
        for i in range(n):
            sock.sendto(_options(kamailio.sip_port, port, i), proxy)
        sock.settimeout(1)
        try:
            while sock.recv(4096):
                answered += 1
        except TimeoutError:
            pass
    return answered


def test_a_flooding_source_is_banned(guarded_edge: KamailioServer, tmp_path: Path) -> None:
    _burst(guarded_edge)
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
    assert _burst(guarded_edge, edge.peer_port) == 300
    assert "pike: banning" not in guarded_edge.log
    _burst(guarded_edge)  # a phone, from another port of 127.0.0.1
    deadline = time.monotonic() + 5
    while "pike: banning 127.0.0.1" not in guarded_edge.log and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "pike: banning 127.0.0.1" in guarded_edge.log
    assert _burst(guarded_edge, edge.peer_port, n=10) == 10
