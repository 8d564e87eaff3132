"""Finding: the menu used the SDP's c= unchecked. A host name made a
blocking DNS lookup on the event loop (every 20 ms), and any address became
a target of 120 s of prompt RTP (reflection). Now c= must be an IP literal,
and media goes only to the phone's own signalling source: the offered
address if it is that one, else where the phone's RTP comes from."""

import time
from pathlib import Path

from tests.security.direct import (
    edge_socket,
    final,
    header,
    new_call_id,
    offer,
    replies,
    request,
    signed,
    status,
)
from tests.support.edge import Edge
from tests.support.menu_calls import scenario
from tests.support.ports import free_media_port
from tests.support.udp_listener import UdpListener


class Counting(UdpListener):
    """A would-be victim: counts what it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.packets = 0

    def handle(self, data: bytes, addr: tuple[str, int], at: float) -> None:
        self.packets += 1


def test_a_host_name_in_c_is_refused_and_never_looked_up(edge: Edge) -> None:
    """``localhost`` resolves without any DNS server: a menu that looked
    names up would send its prompts to the listener."""
    call_id = new_call_id()
    menu = ("127.0.0.1", edge.menu_port)
    with Counting() as victim, edge_socket() as sock:
        body = offer("localhost", victim.port)
        sock.sendto(
            request(sock, call_id, device_header=signed(edge.menu_key, call_id), body=body), menu
        )
        reply = final(sock)
        if status(reply) == 200:  # what the old menu did: then it plays, once ACKed
            tag = header(reply, "To").split("tag=", 1)[1]
            sock.sendto(request(sock, call_id, device_header=None, method="ACK", to_tag=tag), menu)
        replies(sock, 1.5)  # time in which prompts would have flowed
        assert victim.packets == 0
    assert status(reply) == 488, reply
    assert b"IP literal" in reply


def test_media_waits_for_the_phones_own_rtp_and_never_goes_to_another_address(
    edge: Edge, tmp_path: Path
) -> None:
    """A phone at 127.0.0.2 calls through the edge and offers 127.0.0.1 (a
    victim) for media. Nothing goes there; once the phone's own RTP (its
    digits) arrives from 127.0.0.2, prompts go back to where it came from."""
    with Counting() as victim:
        steps = ["pause:1000", "dtmf:1", "pause:1500"]
        path = scenario(
            steps, tmp_path, end="hangup", rtp_port=str(victim.port), media_ip="127.0.0.1"
        )
        call = edge.from_phone(
            "latched",
            "hd3002",
            path,
            "*45",
            timeout_s=30,
            media_port=free_media_port(),
            local_ip="127.0.0.2",
        )
        assert call.run() == 0, call.messages
        time.sleep(0.3)
        assert victim.packets == 0
    last = edge.menu_calls()[-1]
    assert (last["device"], last["outcome"]) == ("hd3002", "abandoned")
    assert last["rtp_packets"] > 0  # latched onto 127.0.0.2's RTP
    assert "menu_rtp_latched" in edge.menu.log_file.read_text()
