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
        redis_port=edge.redis.port,
        binding_url=edge.binding.route_url,
        emergency_gw="sip:127.0.0.1:9",
        pstn_gw="sip:127.0.0.1:9",
        antiflood=True,
    )
    kamailio.start()
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


def test_a_flooding_source_is_banned(guarded_edge: KamailioServer, tmp_path: Path) -> None:
    proxy = ("127.0.0.1", guarded_edge.sip_port)
    # 300 well-formed OPTIONS back to back: far over 40 per 2 s.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        for n in range(300):
            sock.sendto(_options(guarded_edge.sip_port, port, n), proxy)
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
