"""Voice-menu media through the edge's relay (a real rtpengine driven by
the project's kamailio.cfg): the phone is answered with the relay's media
address, never the menu's, and a login by DTMF works through it."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hotdesk.v1 import binding_pb2 as pb

from tests.support.edge import Edge
from tests.support.kamailio import KamailioServer
from tests.support.menu_calls import scenario
from tests.support.rtpengine import MEDIA_PORTS, RtpEngine


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RtpEngine]:
    relay = RtpEngine(tmp_path / "rtpengine.log")
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
def relayed(fresh_edge: Edge, relay: RtpEngine, tmp_path: Path) -> Iterator[KamailioServer]:
    """A Kamailio of the edge whose voice-menu calls go through ``relay``."""
    with fresh_edge.running_kamailio(
        tmp_path / "kamailio",
        tls=False,
        rtpengine=relay.ng_socket,
    ) as node:
        yield node


def test_a_login_by_voice_with_media_through_the_relay(
    fresh_edge: Edge, relay: RtpEngine, relayed: KamailioServer, tmp_path: Path
) -> None:
    edge = fresh_edge
    login = scenario(["dtmf:1001#", "dtmf:4711#"], tmp_path)
    call = edge.dial("hd3001", "*45", login, "login-through-the-relay", via=relayed)
    call.start()
    # Mid-call (the menu is playing its prompts, the phone sends digits):
    # the relay receives RTP from both sides.
    relay_counts: dict[str, int] = {}
    deadline = time.monotonic() + 20
    while len(relay_counts) < 2 or min(relay_counts.values()) == 0:
        assert time.monotonic() < deadline, f"no media through the relay: {relay_counts}"
        time.sleep(0.2)
        relay_counts = relay.packets_by_tag()
    assert call.wait(timeout=60) == 0, call.messages
    state = edge.stub().GetByDevice(pb.GetByDeviceRequest(device_id="hd3001"))
    assert state.binding.extension == "1001"
    # The phone was given the relay's media port, not the menu's.
    (answer,) = [m for m in call.received(200) if (m.header("CSeq") or "").endswith("INVITE")]
    media = re.search(r"^m=audio (\d+) ", answer.body, re.M)
    assert media is not None, answer.body
    assert MEDIA_PORTS[0] <= int(media.group(1)) <= MEDIA_PORTS[1]
    (ended,) = edge.menu_calls()[-1:]
    assert (ended["outcome"], ended["dtmf"]) == ("logged_in", "rfc4733")
    assert int(ended["rtp_packets"]) > 50  # the prompts reached the phone's side
