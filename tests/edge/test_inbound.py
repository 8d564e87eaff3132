"""Calls from the outside world through the real Kamailio: the demo PSTN
gateway (a peer, known by its address and port) reaches users by DID and
extension at whatever desk they sit; unavailable users' calls follow their
rule; everyone else is challenged and costs no lookup."""

import time

from tests.support.demo import DOMAIN, demo_directory_text
from tests.support.edge import Edge
from tests.support.kamailio import free_udp_port

ALICE_DID = "+4930123451001"
CAROL_DID = "+4930123451003"
CAROL_MOBILE = "+4917612345003"


def lookups(edge: Edge) -> float:
    return sum(
        v
        for k, v in edge.binding.metrics().items()
        if k.startswith("hotdesk_binding_route_lookups_total")
    )


def test_a_did_and_an_extension_ring_the_desk_the_user_is_at(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3002", "1001")
    for number in (ALICE_DID, "1001"):
        phone = fresh_edge.phone(f"alice-at-hd3002-{number}", "hd3002")
        call = fresh_edge.from_peer(f"pstn-to-{number}", number)
        assert call.run() == 0, call.messages
        assert call.final_status() == 200
        assert phone.wait() == 0
        (invite,) = phone.received("INVITE")
        assert invite.start_line.startswith("INVITE sip:hd3002@127.0.0.1:")
        # The trusted peer's identity arrives as it sent it.
        assert (invite.header("From") or "").startswith(
            '"Caller Outside" <sip:+4915112345678@carrier.example>'
        )
        assert invite.headers["p-asserted-identity"] == [
            '"Caller Outside" <sip:+4915112345678@carrier.example>'
        ]
        assert invite.header("X-Hotdesk-Device") is None


def test_every_contact_of_the_desk_rings(fresh_edge: Edge) -> None:
    """A desk registered twice (a phone and a softphone on it): both ring,
    the first to answer takes the call, the other is cancelled."""
    fresh_edge.login("hd3002", "1001")
    ringing = fresh_edge.phone("desk-softphone", "hd3002", scenario="ring")
    answering = fresh_edge.phone("desk-phone", "hd3002")
    try:
        call = fresh_edge.from_peer("to-two-contacts", ALICE_DID)
        assert call.run() == 0
        assert call.final_status() == 200
        assert answering.wait() == 0
        assert ringing.wait() == 0  # it rang, then was cancelled
    finally:
        ringing.stop()
    assert len(answering.received("INVITE")) == len(ringing.received("INVITE")) == 1
    assert ringing.received("CANCEL")


def test_a_did_of_a_user_who_does_not_hot_desk_rings_her_own_phone(fresh_edge: Edge) -> None:
    """Dana (2001) has a phone of her own: her DID is looked up as her
    extension in usrloc, where nothing is registered here."""
    call = fresh_edge.from_peer("to-dana", "+4930123452001")
    assert call.run() == 0
    assert call.final_status() == 480
    (answer,) = call.received(480)
    assert "not registered" in answer.start_line


def test_after_a_move_the_next_call_follows_the_user(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3002", "1001")
    fresh_edge.login("hd3001", "1001")  # Alice moves: hd3002 is idle again
    old_desk = fresh_edge.phone("old-desk", "hd3002")
    new_desk = fresh_edge.phone("new-desk", "hd3001")
    try:
        call = fresh_edge.from_peer("after-move", ALICE_DID)
        assert call.run() == 0
        assert call.final_status() == 200
        assert new_desk.wait() == 0
        assert new_desk.received("INVITE")[0].start_line.startswith("INVITE sip:hd3001@")
        assert old_desk.received("INVITE") == []
    finally:
        old_desk.stop()


def test_a_logged_out_user_is_480(fresh_edge: Edge) -> None:
    call = fresh_edge.from_peer("to-logged-out", ALICE_DID)
    assert call.run() == 0
    assert call.final_status() == 480


def test_a_logged_out_users_forward_carries_history_info_and_diversion(fresh_edge: Edge) -> None:
    """Carol's own rule: calls she cannot take go to her mobile, out through
    the tenant's outbound peer (the demo PSTN gateway)."""
    mobile = fresh_edge.gateway("carol-mobile", fresh_edge.pstn_port).start()
    try:
        call = fresh_edge.from_peer("to-carol-logged-out", CAROL_DID)
        assert call.run() == 0, call.messages
        assert call.final_status() == 200
        assert mobile.wait() == 0
    finally:
        mobile.stop()
    (invite,) = mobile.received("INVITE")
    assert invite.start_line.startswith(f"INVITE sip:{CAROL_MOBILE}@{DOMAIN} ")
    assert invite.headers["history-info"] == [
        f"<sip:{CAROL_DID}@{DOMAIN}>;index=1",
        f"<sip:{CAROL_MOBILE}@{DOMAIN};cause=404>;index=1.1;mp=1",
    ]
    assert invite.header("Diversion") == (
        f"<sip:{CAROL_DID}@{DOMAIN}>;reason=unavailable;counter=1"
    )
    assert (invite.header("From") or "").startswith('"Caller Outside"')


def test_no_answer_within_the_ring_time_forwards(fresh_edge: Edge) -> None:
    text = demo_directory_text(fresh_edge.gateways)
    fresh_edge.import_directory(text.replace("ring_seconds: 20", "ring_seconds: 5"))
    fresh_edge.login("hd3003", "1003")
    desk = fresh_edge.phone("carol-desk-rings", "hd3003", scenario="ring")
    mobile = fresh_edge.gateway("carol-mobile-no-answer", fresh_edge.pstn_port).start()
    try:
        started = time.monotonic()
        call = fresh_edge.from_peer("to-carol-no-answer", CAROL_DID)
        assert call.run() == 0, call.messages
        assert call.final_status() == 200
        assert time.monotonic() - started >= 5  # the desk rang for the ring time
        assert desk.wait() == 0  # rang, then was cancelled
        assert mobile.wait() == 0
    finally:
        mobile.stop()
        desk.stop()
        fresh_edge.import_directory(demo_directory_text(fresh_edge.gateways))
    (invite,) = mobile.received("INVITE")
    assert invite.headers["history-info"][1] == (
        f"<sip:{CAROL_MOBILE}@{DOMAIN};cause=408>;index=1.1;mp=1"
    )
    assert (invite.header("Diversion") or "").endswith(";reason=no-answer;counter=1")


def test_an_unknown_source_is_challenged_and_costs_no_lookup(fresh_edge: Edge) -> None:
    """Another port on the peer's own address is not the peer: a phone's
    treatment (407), before any lookup, even with the peer's identity."""
    fresh_edge.login("hd3002", "1001")
    lookups_before = lookups(fresh_edge)
    challenges_before = fresh_edge.kamailio.counter("hotdesk_challenges_total")
    for name in ("unknown-source", "forged-peer"):
        call = fresh_edge.from_peer(name, ALICE_DID, local_port=free_udp_port())
        assert call.run() == 0
        assert call.final_status() == 407
    assert lookups(fresh_edge) == lookups_before
    assert fresh_edge.kamailio.counter("hotdesk_challenges_total") == challenges_before + 2


def test_a_phone_calling_a_did_gets_a_phones_treatment(fresh_edge: Edge) -> None:
    """A registered phone dialling a DID is still a phone: its user's
    identity, not the caller's own, and an idle phone is refused."""
    refused = fresh_edge.call("idle-to-did", "hd3001", ALICE_DID)
    assert refused.run() == 0
    assert refused.final_status() == 403
    fresh_edge.login("hd3001", "1002")
    fresh_edge.login("hd3002", "1001")
    phone = fresh_edge.phone("alice-did-from-bob", "hd3002")
    forged = "P-Asserted-Identity: <sip:+4915112345678@carrier.example>"
    call = fresh_edge.call("bob-to-alice-did", "hd3001", ALICE_DID, extra_header=forged)
    assert call.run() == 0
    assert call.final_status() == 200
    assert phone.wait() == 0
    (invite,) = phone.received("INVITE")
    assert invite.headers["p-asserted-identity"] == [f'"Bob Example" <sip:+4930123451002@{DOMAIN}>']


def test_outside_calls_leave_through_the_tenants_peer(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3001", "1001")
    call = fresh_edge.call("alice-calls-out", "hd3001", "+493099999999")
    invite = fresh_edge.arrival("pstn-out", fresh_edge.pstn_port, call)
    assert invite.start_line.startswith(f"INVITE sip:+493099999999@{DOMAIN} ")
    assert invite.headers["p-asserted-identity"] == [f'"Alice Example" <sip:{ALICE_DID}@{DOMAIN}>']


def test_a_peer_cannot_transit_or_reach_other_tenants(fresh_edge: Edge) -> None:
    for number, status in (("+493099999999", 404), ("112", 404), ("4711", 404)):
        call = fresh_edge.from_peer(f"transit-{number}", number)
        assert call.run() == 0
        assert call.final_status() == status, number
