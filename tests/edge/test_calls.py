"""Calls through the real Kamailio: rewrites by the hot-desk lookup."""

import signal
import time

from tests.support.demo import DOMAIN, NEVER_CACHED
from tests.support.edge import Edge
from tests.support.sipp import SCENARIOS


def test_idle_phone_reaches_emergency_with_device_caller_id(fresh_edge: Edge) -> None:
    gateway = fresh_edge.gateway("emergency-gw", fresh_edge.emergency_port).start()
    time.sleep(0.3)
    caller = fresh_edge.call("idle-112", "hd3001", "112")
    assert caller.run() == 0
    assert caller.final_status() == 200
    assert gateway.wait() == 0
    (invite,) = gateway.received("INVITE")
    assert invite.header("P-Asserted-Identity") == f"<sip:+4930123450100@{DOMAIN}>"
    assert invite.start_line.startswith("INVITE sip:112@")


def test_idle_phone_is_refused_other_numbers(fresh_edge: Edge) -> None:
    caller = fresh_edge.call("idle-1002", "hd3001", "1002")
    assert caller.run() == 0
    assert caller.final_status() == 403
    (refusal,) = caller.received(403)
    assert "Log in" in refusal.start_line


def test_logged_in_user_calls_and_is_called_at_the_desk(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    phone = fresh_edge.phone("hd3002-phone", "hd3002")
    forged = "P-Asserted-Identity: <sip:666@evil.example>"
    caller = fresh_edge.call("alice-to-bob", "hd3001", "1002", extra_header=forged)
    assert caller.run() == 0, caller.messages
    assert caller.final_status() == 200
    assert phone.wait() == 0
    (invite,) = phone.received("INVITE")
    assert invite.start_line.startswith("INVITE sip:hd3002@127.0.0.1:")
    assert (invite.header("From") or "").startswith(f'"Alice Example" <sip:1001@{DOMAIN}>')
    assert invite.headers["p-asserted-identity"] == [
        f'"Alice Example" <sip:+4930123451001@{DOMAIN}>'
    ]


def test_logged_out_user_gets_480(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3001", "1001")
    caller = fresh_edge.call("to-logged-out", "hd3001", "1002")
    assert caller.run() == 0
    assert caller.final_status() == 480


def test_request_with_another_devices_credentials_is_refused(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3001", "1001")
    spoof = fresh_edge.call("spoof", "hd3001", "1002", auth_user="hd3002")
    assert spoof.run() == 0
    assert spoof.final_status() == 403
    wrong = fresh_edge.call("wrong-secret", "hd3001", "1002", password="guess-guess-guess")
    assert wrong.run() == 0
    assert wrong.final_status() == 407


def test_binding_service_down_gives_503_then_recovers(fresh_edge: Edge) -> None:
    fresh_edge.binding.stop()
    gateway = fresh_edge.gateway("emergency-fallback", fresh_edge.emergency_port).start()
    try:
        started = time.monotonic()
        caller = fresh_edge.call("binding-down", "hd3001", NEVER_CACHED)
        assert caller.run() == 0
        assert time.monotonic() - started < 5
        assert caller.final_status() == 503
        (unavailable,) = caller.received(503)
        assert unavailable.header("Retry-After") == "5"
        # Emergency calls still go out, by the fallback list.
        emergency = fresh_edge.call("binding-down-112", "hd3001", "112")
        assert emergency.run() == 0
        assert emergency.final_status() == 200
        assert gateway.wait() == 0
        assert gateway.received("INVITE")[0].start_line.startswith("INVITE sip:112@")
    finally:
        gateway.stop()
        fresh_edge.binding.start()
    caller = fresh_edge.call("binding-back", "hd3001", "1003")
    assert caller.run() == 0
    assert caller.final_status() == 403  # idle phone: a real answer again


def test_frozen_binding_service_times_out_into_503(fresh_edge: Edge) -> None:
    """A binding service that accepts but never answers (SIGSTOP): Kamailio
    answers 503 within its lookup timeout, and works again once it thaws."""
    assert fresh_edge.binding.proc is not None
    fresh_edge.binding.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        caller = fresh_edge.call("binding-frozen", "hd3001", NEVER_CACHED)
        assert caller.run() == 0
        elapsed = time.monotonic() - started
        assert caller.final_status() == 503
        assert elapsed < 3, elapsed  # 0.8 s lookup timeout plus the auth round
    finally:
        fresh_edge.binding.proc.send_signal(signal.SIGCONT)
    caller = fresh_edge.call("binding-thawed", "hd3001", "1003")
    assert caller.run() == 0
    assert caller.final_status() == 403


def test_redis_restart_keeps_sessions_and_registrations(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    fresh_edge.redis.restart(hard=True)
    phone = fresh_edge.phone("after-restart", "hd3002")  # digest auth reads Redis again
    caller = fresh_edge.call("after-restart-call", "hd3001", "1002")
    assert caller.run() == 0
    assert caller.final_status() == 200
    assert phone.wait() == 0
    (invite,) = phone.received("INVITE")
    assert (invite.header("From") or "").startswith('"Alice Example"')


def test_kamailio_metrics_count_hotdesk_outcomes(fresh_edge: Edge) -> None:
    before = _counter(fresh_edge.kamailio.metrics(), "hotdesk_idle_refused_total")
    caller = fresh_edge.call("metrics-idle", "hd3001", "1002")
    assert caller.run() == 0
    assert _counter(fresh_edge.kamailio.metrics(), "hotdesk_idle_refused_total") == before + 1


def _counter(text: str, name: str) -> float:
    """A value from xhttp_prom's exposition (``name value timestamp``)."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].endswith(name):
            return float(fields[1])
    raise AssertionError(f"{name} not in metrics:\n{text[:2000]}")


def test_takeover_and_move_follow_the_user_at_once(fresh_edge: Edge) -> None:
    """No re-registration: the next INVITE already goes where the user is."""
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3002", "1002")
    # Carol takes hd3002 over from Bob: calls to Bob now get 480 ...
    assert fresh_edge.login("hd3002", "1003", takeover=True).ended[0].extension == "1002"
    to_bob = fresh_edge.call("to-bob-after-takeover", "hd3001", "1002")
    assert to_bob.run() == 0
    assert to_bob.final_status() == 480
    # ... and calls to Carol ring hd3002.
    phone = fresh_edge.phone("hd3002-carol", "hd3002")
    to_carol = fresh_edge.call("to-carol", "hd3001", "1003")
    assert to_carol.run() == 0
    assert to_carol.final_status() == 200
    assert phone.wait() == 0
    # Alice moves from hd3001 to hd3003: hd3001 is idle again.
    fresh_edge.login("hd3003", "1001")
    from_old_desk = fresh_edge.call("from-old-desk", "hd3001", "1003")
    assert from_old_desk.run() == 0
    assert from_old_desk.final_status() == 403


def test_cancel_during_the_lookup_is_honoured(fresh_edge: Edge) -> None:
    """CANCEL while the INVITE waits for the binding service: 200 for the
    CANCEL, 487 for the INVITE, and nothing after (no late 503)."""
    assert fresh_edge.binding.proc is not None
    fresh_edge.binding.proc.send_signal(signal.SIGSTOP)
    try:
        caller = fresh_edge.call("cancelled", "hd3001", NEVER_CACHED)
        caller.argv[caller.argv.index("-sf") + 1] = str(SCENARIOS / "cancel.xml")
        assert caller.run() == 0, caller.messages
    finally:
        fresh_edge.binding.proc.send_signal(signal.SIGCONT)
    statuses = [m.status or 0 for m in caller.messages if m.direction == "received"]
    assert sorted(statuses[-2:]) == [200, 487]
    assert 503 not in statuses


def test_user_at_an_unregistered_phone_gets_480(fresh_edge: Edge) -> None:
    fresh_edge.login("hd3001", "1001")
    fresh_edge.login("hd3003", "1002")  # hd3003 never registered in this module
    caller = fresh_edge.call("to-unregistered", "hd3001", "1002")
    assert caller.run() == 0
    assert caller.final_status() == 480
    (answer,) = caller.received(480)
    assert "not registered" in answer.start_line
