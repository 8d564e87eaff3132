"""Busy lamps, instant messages and message-waiting follow the user to her
desk, through the real Kamailio's presence server."""

from tests.support.demo import DOMAIN
from tests.support.edge import Edge
from tests.support.lamps import answered_and_ended, call_id, call_states, watch

BOB_DID = "+4930123451002"


def test_the_lamp_shows_the_user_wherever_she_sits(fresh_edge: Edge) -> None:
    """Alice at hd3001 calls Bob at hd3002: lamps on 1001 and 1002 go
    confirmed during the call and terminated after, although neither
    watcher knows (or cares) at which desk they sit."""
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    alice_lamp = watch(fresh_edge, "lamp-1001", "1001")
    bob_lamp = watch(fresh_edge, "lamp-1002", "1002")
    try:
        phone = fresh_edge.phone("bob-desk", "hd3002")
        call = fresh_edge.call("alice-calls-bob", "hd3001", "1002")
        answered_and_ended(call, phone, alice_lamp, bob_lamp)
    finally:
        alice_lamp.stop()
        bob_lamp.stop()
    alice = call_states(alice_lamp.received("NOTIFY"), f"sip:1001@{DOMAIN}", call_id(call))
    bob = call_states(bob_lamp.received("NOTIFY"), f"sip:1002@{DOMAIN}", call_id(call))
    assert alice == ["early", "confirmed", "terminated"]
    assert bob == ["early", "confirmed", "terminated"]  # her desk rang first


def test_a_call_from_outside_lights_the_users_lamp(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3002", "1002")
    lamp = watch(fresh_edge, "lamp-1002-outside", "1002")
    try:
        phone = fresh_edge.phone("bob-desk-outside", "hd3002")
        call = fresh_edge.from_peer("outside-calls-bob", BOB_DID)
        answered_and_ended(call, phone, lamp)
    finally:
        lamp.stop()
    seen = call_states(lamp.received("NOTIFY"), f"sip:1002@{DOMAIN}", call_id(call))
    assert seen == ["early", "confirmed", "terminated"]
    # The lamp names the caller the carrier asserted.
    confirmed = next(m for m in lamp.received("NOTIFY") if "confirmed" in m.body)
    assert "+4915112345678" in confirmed.body


def test_a_call_out_lights_the_callers_lamp(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3001", "1001")
    lamp = watch(fresh_edge, "lamp-1001-out", "1001")
    gateway = fresh_edge.gateway("pstn-answers", fresh_edge.pstn_port).start()
    try:
        call = fresh_edge.call("alice-calls-outside", "hd3001", "+493099999999")
        answered_and_ended(call, gateway, lamp)
    finally:
        lamp.stop()
        gateway.stop()
    seen = call_states(lamp.received("NOTIFY"), f"sip:1001@{DOMAIN}", call_id(call))
    assert seen == ["early", "confirmed", "terminated"]


def test_only_a_tenants_own_phones_watch_its_users(fresh_edge: Edge) -> None:
    foreign = fresh_edge.from_phone(
        "globex-watches-acme", "gx4001", "subscribe", "1002", domain="globex.local"
    )
    assert foreign.run() == 0
    assert foreign.final_status() == 403


def test_a_message_reaches_the_user_at_her_desk(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    phone = fresh_edge.phone("bob-desk-message", "hd3002", scenario="accept")
    message = fresh_edge.from_phone("alice-messages-bob", "hd3001", "message", "1002")
    assert message.run() == 0
    assert message.final_status() == 200
    assert phone.wait() == 0
    (received,) = phone.received("MESSAGE")
    assert received.start_line.startswith("MESSAGE sip:hd3002@127.0.0.1:")
    assert (received.header("From") or "").startswith(f'"Alice Example" <sip:1001@{DOMAIN}>')
    assert received.body == "Lunch at noon?"

    fresh_edge.logout_all()
    fresh_edge.login("hd3001", "1001")
    unreachable = fresh_edge.from_phone("alice-messages-nobody", "hd3001", "message", "1002")
    assert unreachable.run() == 0
    assert unreachable.final_status() == 480


def test_message_waiting_lights_the_desk_she_is_at_and_no_other(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3002", "1002")
    phone = fresh_edge.phone("bob-desk-mwi", "hd3002", scenario="accept")
    mwi = fresh_edge.from_peer("voicemail-to-bob", BOB_DID, scenario="mwi_notify")
    assert mwi.run() == 0
    assert mwi.final_status() == 200
    assert phone.wait() == 0
    (notify,) = phone.received("NOTIFY")
    assert notify.header("Event") == "message-summary"
    assert "Messages-Waiting: yes" in notify.body

    fresh_edge.logout_all()
    idle_desk = fresh_edge.phone("idle-desk-mwi", "hd3002", scenario="accept")
    try:
        nobody = fresh_edge.from_peer("voicemail-to-nobody", BOB_DID, scenario="mwi_notify")
        assert nobody.run() == 0
        assert nobody.final_status() == 480
        assert idle_desk.received("NOTIFY") == []
    finally:
        idle_desk.stop()
