"""Busy lamps are published only for users somebody watches: a lamp that
starts watching during a call is shown it, and a user nobody watched shows
no call of hers. A module of its own, so that the users here have never
been watched on this edge's presence server."""

from collections.abc import Callable

from tests.support.demo import DOMAIN
from tests.support.edge import Edge
from tests.support.lamps import call_id, call_states, ended, watch
from tests.support.sipp import Sipp
from tests.support.waiting import wait_for

PUBLISHES = "hotdesk_blf_publishes_total"


def shows_a_call(lamp: Sipp) -> Callable[[], bool]:
    return lambda: "confirmed" in lamp.received("NOTIFY")[-1].body


def test_a_lamp_that_starts_watching_mid_call_shows_the_call(fresh_edge: Edge) -> None:
    """Alice at hd3001 calls Bob at hd3002, nobody watching either; once the
    call is up, lamps on 1001 (calling) and 1002 (called) subscribe: each
    shows the call confirmed, then terminated when Alice hangs up."""
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    before = fresh_edge.kamailio.counter(PUBLISHES)
    phone = fresh_edge.phone("bob-desk", "hd3002")
    call = fresh_edge.call("alice-calls-bob", "hd3001", "1002", talk_ms=8000).start()
    lamps = []
    try:
        wait_for(lambda: bool(call.received(200)), "200 OK at the caller")
        # Ringing and answering published nothing: nobody watched.
        assert fresh_edge.kamailio.counter(PUBLISHES) == before
        lamps = [watch(fresh_edge, "lamp-1001", "1001"), watch(fresh_edge, "lamp-1002", "1002")]
        for lamp in lamps:
            wait_for(shows_a_call(lamp), "confirmed call at the lamp")
        assert call.wait() == 0
        assert call.final_status() == 200
        assert phone.wait() == 0
        for lamp in lamps:
            wait_for(ended(lamp, call_id(call)), "terminated call at the lamp")
    finally:
        call.stop()
        phone.stop()
        for lamp in lamps:
            lamp.stop()
    for lamp, extension, direction in zip(
        lamps, ("1001", "1002"), ("initiator", "recipient"), strict=True
    ):
        notifies = lamp.received("NOTIFY")
        assert call_states(notifies, f"sip:{extension}@{DOMAIN}", call_id(call)) == [
            "confirmed",
            "terminated",
        ]
        confirmed = next(m for m in notifies if "confirmed" in m.body)
        assert f'direction="{direction}"' in confirmed.body


def test_a_call_nobody_watched_leaves_no_state(fresh_edge: Edge) -> None:
    """Carol at hd3003 calls out while nobody watches her: nothing is
    published, and a lamp that subscribes afterwards shows no call."""
    fresh_edge.login("hd3003", "1003")
    before = fresh_edge.kamailio.counter(PUBLISHES)
    gateway = fresh_edge.gateway("pstn-answers", fresh_edge.pstn_port).start()
    try:
        call = fresh_edge.call("carol-calls-out", "hd3003", "+493099999999")
        assert call.run() == 0
        assert call.final_status() == 200
        assert gateway.wait() == 0
    finally:
        gateway.stop()
    assert fresh_edge.kamailio.counter(PUBLISHES) == before
    lamp = watch(fresh_edge, "lamp-1003", "1003", device="hd3001")
    lamp.stop()
    notifies = lamp.received("NOTIFY")
    assert notifies
    assert call_states(notifies, f"sip:1003@{DOMAIN}", call_id(call)) == []
