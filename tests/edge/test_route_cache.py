"""Kamailio's route cache (kamailio.cfg route[HOTDESK_CACHED]): a call
between desks it has seen is routed without the binding service, and every
change of either side's session is seen at the next call."""

import signal

from hotdesk.v1 import binding_pb2 as pb

from tests.support.demo import demo_directory_text
from tests.support.edge import Edge

HITS = "hotdesk_route_cache_hits_total"
MISSES = "hotdesk_route_cache_misses_total"


def _answered_at(edge: Edge, name: str, caller: str, number: str, desk: str) -> None:
    """A call from ``caller`` to ``number`` rings ``desk`` (and is answered there)."""
    phone = edge.phone(f"{name}-at-{desk}", desk)
    call = edge.call(name, caller, number)
    assert call.run() == 0, call.messages
    assert call.final_status() == 200
    assert phone.wait() == 0
    (invite,) = phone.received("INVITE")
    assert invite.start_line.startswith(f"INVITE sip:{desk}@")


def _status(edge: Edge, name: str, caller: str, number: str) -> int:
    call = edge.call(name, caller, number)
    assert call.run() == 0, call.messages
    status = call.final_status()
    assert status is not None
    return status


def test_a_repeated_call_is_routed_from_the_cache(fresh_edge: Edge) -> None:
    kamailio = fresh_edge.kamailio
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    _answered_at(fresh_edge, "first", "hd3001", "1002", "hd3002")
    hits = kamailio.counter(HITS)
    _answered_at(fresh_edge, "second", "hd3001", "1002", "hd3002")
    assert kamailio.counter(HITS) == hits + 1
    # With the binding service frozen, the cached halves still route.
    assert fresh_edge.binding.proc is not None
    fresh_edge.binding.proc.send_signal(signal.SIGSTOP)
    try:
        _answered_at(fresh_edge, "frozen", "hd3001", "1002", "hd3002")
    finally:
        fresh_edge.binding.proc.send_signal(signal.SIGCONT)
    assert kamailio.counter(HITS) == hits + 2


def test_every_session_change_is_seen_at_the_next_call(fresh_edge: Edge) -> None:
    """Moves, takeovers and logouts on either side, each right after a
    cached call: the next call goes by the new state, never from the cache."""
    kamailio = fresh_edge.kamailio
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    _answered_at(fresh_edge, "warm", "hd3001", "1002", "hd3002")
    _answered_at(fresh_edge, "cached", "hd3001", "1002", "hd3002")
    # The callee moves: the next call rings her new desk.
    hits = kamailio.counter(HITS)
    fresh_edge.login("hd3003", "1002")
    _answered_at(fresh_edge, "callee-moved", "hd3001", "1002", "hd3003")
    assert kamailio.counter(HITS) == hits
    # Another user takes her desk over: she is logged out (480).
    fresh_edge.login("hd3003", "1003", takeover=True)
    assert _status(fresh_edge, "callee-taken-over", "hd3001", "1002") == 480
    # She logs in again and is reached; then she logs out.
    fresh_edge.login("hd3002", "1002")
    _answered_at(fresh_edge, "callee-back", "hd3001", "1002", "hd3002")
    _answered_at(fresh_edge, "callee-back-cached", "hd3001", "1002", "hd3002")
    fresh_edge.stub().Logout(pb.LogoutRequest(device_id="hd3002", actor="test"))
    assert _status(fresh_edge, "callee-logged-out", "hd3001", "1002") == 480
    # The caller moves away: her old desk is idle (403) at the next call.
    fresh_edge.login("hd3002", "1002")
    _answered_at(fresh_edge, "again", "hd3001", "1002", "hd3002")
    _answered_at(fresh_edge, "again-cached", "hd3001", "1002", "hd3002")
    fresh_edge.login("hd3003", "1001", takeover=True)
    assert _status(fresh_edge, "caller-moved", "hd3001", "1002") == 403


def test_a_directory_change_is_seen_once_imported(fresh_edge: Edge) -> None:
    """Alice's name changes in the directory: the first call after the
    import (Edge.import_directory waits until Kamailio read its version)
    carries the new name, though her half was cached."""
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    _answered_at(fresh_edge, "named", "hd3001", "1002", "hd3002")
    demo = demo_directory_text(fresh_edge.gateways)
    renamed = demo.replace("name: Alice Example", "name: Alice Renamed")
    assert renamed != demo
    fresh_edge.import_directory(renamed)
    try:
        phone = fresh_edge.phone("renamed-at-hd3002", "hd3002")
        call = fresh_edge.call("renamed", "hd3001", "1002")
        assert call.run() == 0, call.messages
        assert call.final_status() == 200
        assert phone.wait() == 0
        (invite,) = phone.received("INVITE")
        assert (invite.header("From") or "").startswith('"Alice Renamed"')
    finally:
        fresh_edge.import_directory(demo)
