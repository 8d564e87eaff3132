"""Flood protection: a source sending too fast is banned (and answered
nothing) for the ban's lifetime."""

import time
from pathlib import Path

from tests.support.edge import Edge
from tests.support.flood import burst
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.sipp import Sipp


def registration(
    kamailio: KamailioServer,
    log_dir: Path,
    name: str,
    device: str,
    contact_port: int,
    timeout_s: int,
) -> Sipp:
    """``device`` registering at ``kamailio`` from a port of its own."""
    return Sipp(
        "register",
        f"127.0.0.1:{kamailio.sip_port}",
        log_dir,
        name=name,
        local_port=free_udp_port(),
        keys={"user": device, "domain": "hotdesk.local", "contact_port": str(contact_port)},
        auth=(device, f"demo-secret-{device}"),
        timeout_s=timeout_s,
    )


def test_a_flooding_source_is_banned(guarded_edge: KamailioServer, tmp_path: Path) -> None:
    burst(guarded_edge)
    deadline = time.monotonic() + 5  # the workers may still be reading the burst
    while "pike: banning 127.0.0.1" not in guarded_edge.log and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "pike: banning 127.0.0.1" in guarded_edge.log
    # Banned now: a well-formed REGISTER from the same address gets no answer.
    register = registration(guarded_edge, tmp_path, "banned", "hd3001", 5999, timeout_s=3)
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


def test_an_operator_lifts_a_ban_and_lists_registrations(
    guarded_edge: KamailioServer, tmp_path: Path
) -> None:
    """Kamailio's local control socket (kamcmd): the ban list, a ban
    lifted by hand, and who is registered."""
    burst(guarded_edge)
    deadline = time.monotonic() + 5
    while "127.0.0.1" not in guarded_edge.rpc("htable.dump", "ban"):
        assert time.monotonic() < deadline, guarded_edge.rpc("htable.dump", "ban")
        time.sleep(0.1)
    assert burst(guarded_edge, n=1) == 0  # banned (for 300 s): no answer
    # Lifted by hand: answered again once pike's own count has cooled down
    # (a ban lasts 300 s; this takes seconds).
    deadline = time.monotonic() + 20
    while True:
        guarded_edge.rpc("htable.delete", "ban", "127.0.0.1")
        register = registration(
            guarded_edge, tmp_path, "after-ban-lifted", "hd3003", 5998, timeout_s=2
        )
        register.run()
        if register.final_status() == 200:
            break
        assert time.monotonic() < deadline, "still banned after the ban was lifted"
        time.sleep(1)
    listed = guarded_edge.rpc("ul.lookup", "location", "hd3003@hotdesk.local")
    assert "sip:" in listed and ":5998" in listed
