"""The voice menu through the real edge: sipp desk phones dial the tenant's
feature codes, send DTMF as RFC 4733 packets (the sip-tester package's
captures) or SIP INFO, and the binding shows what happened."""

import itertools
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb

from services.menu.edge_signature import header_value, load_key
from services.menu.settings import MenuSettings
from tests.support import pki
from tests.support.demo import demo_directory_text
from tests.support.edge import Edge, edge_stack
from tests.support.menu_calls import RtpReceiver, concurrent_calls, scenario
from tests.support.sipp import SCENARIOS

GROUP = "acme-group"


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """The edge, the menu taking 50 calls at once from one desk (the pacing
    test; the caps have their own tests in tests/security)."""
    caps = {"HOTDESK_MENU_MAX_CALLS_PER_DEVICE": "50"}
    with edge_stack(tmp_path_factory.mktemp("edge"), caps) as e:
        yield e


@pytest.fixture
def menu(fresh_edge: Edge) -> Iterator[Edge]:
    yield fresh_edge
    stub = auth_pb2_grpc.AuthServiceStub(pki.channel(fresh_edge.auth.grpc_address))
    for ext in ("1001", "1002", "1003"):
        stub.Unlock(apb.UnlockRequest(user=pb.UserRef(tenant="acme", extension=ext), actor="t"))


def on(edge: Edge, device: str) -> str:
    state = edge.stub().GetByDevice(pb.GetByDeviceRequest(device_id=device))
    return state.binding.extension if state.HasField("binding") else ""


def outcome(edge: Edge) -> dict[str, Any]:
    """The menu's record of its last call."""
    return edge.menu_calls()[-1]


def test_login_with_rfc4733_digits(menu: Edge, tmp_path: Path) -> None:
    call = menu.dial("hd3001", "*45", scenario(["dtmf:1001#", "dtmf:4711#"], tmp_path), "login")
    assert call.run() == 0, call.messages
    assert on(menu, "hd3001") == "1001"
    audit = outcome(menu)
    assert (audit["outcome"], audit["dtmf"], audit["device"]) == ("logged_in", "rfc4733", "hd3001")
    assert int(audit["rtp_packets"]) > 50  # prompts were played


def test_wrong_pin_three_times_speaks_the_lockout_and_logs_nobody_in(
    menu: Edge, tmp_path: Path
) -> None:
    steps = ["dtmf:1003#", "dtmf:1234#"] * 3
    call = menu.dial("hd3002", "*45", scenario(steps, tmp_path), "wrong-pin")
    assert call.run() == 0, call.messages
    assert on(menu, "hd3002") == ""
    assert outcome(menu)["outcome"] == "locked"


def test_takeover_needs_the_2(menu: Edge, tmp_path: Path) -> None:
    menu.login("hd3001", "1002")
    refuse = menu.dial(
        "hd3001", "*45", scenario(["dtmf:1001#", "dtmf:4711#", "dtmf:9"], tmp_path), "no"
    )
    assert refuse.run() == 0, refuse.messages
    assert on(menu, "hd3001") == "1002"
    take = menu.dial(
        "hd3001", "*45", scenario(["dtmf:1001#", "dtmf:4711#", "dtmf:2"], tmp_path), "yes"
    )
    assert take.run() == 0, take.messages
    assert on(menu, "hd3001") == "1001"
    assert outcome(menu)["outcome"] == "logged_in"


def test_3cx_style_code_skips_the_extension(menu: Edge, tmp_path: Path) -> None:
    call = menu.dial("hd3003", "*77*1003*", scenario(["dtmf:5173#"], tmp_path), "77")
    assert call.run() == 0, call.messages
    assert on(menu, "hd3003") == "1003"


def test_logout_asks_the_pin(menu: Edge, tmp_path: Path) -> None:
    menu.login("hd3001", "1001")
    call = menu.dial("hd3001", "*46", scenario(["dtmf:4711#"], tmp_path), "logout")
    assert call.run() == 0, call.messages
    assert on(menu, "hd3001") == ""
    assert outcome(menu)["outcome"] == "logged_out"


def test_a_globex_user_logs_in_with_the_company_pin(menu: Edge, tmp_path: Path) -> None:
    """globex has a company PIN in the demo directory (2580): Gus has none
    of his own, his extension and the company PIN log him in."""
    steps = ["dtmf:3001#", "dtmf:2580#"]
    call = menu.dial("gx4001", "*45", scenario(steps, tmp_path), "company", domain="globex.local")
    assert call.run() == 0, call.messages
    assert on(menu, "gx4001") == "3001"
    assert outcome(menu)["outcome"] == "logged_in"


def test_logout_anywhere_from_an_idle_phone_ends_her_session_at_another_desk(
    menu: Edge, tmp_path: Path
) -> None:
    """Alice forgot to log out at hd3001: from hd3002, where nobody is
    logged in, *47 with her extension and PIN ends that session; calls to
    her rang hd3001 before and get 480 after."""
    menu.login("hd3001", "1001")
    menu.login("hd3003", "1003")  # a caller
    desk_a = menu.phone("alice-at-a", "hd3001")
    before = menu.call("to-alice-at-a", "hd3003", "1001")
    assert before.run() == 0 and before.final_status() == 200
    assert desk_a.wait() == 0

    steps = ["dtmf:1001#", "dtmf:4711#"]
    call = menu.dial("hd3002", "*47", scenario(steps, tmp_path), "anywhere")
    assert call.run() == 0, call.messages
    assert (on(menu, "hd3001"), on(menu, "hd3002")) == ("", "")
    assert (outcome(menu)["outcome"], outcome(menu)["extension"]) == ("logged_out", "1001")
    after = menu.call("to-alice-gone", "hd3003", "1001")
    assert after.run() == 0 and after.final_status() == 480


def test_logout_anywhere_needs_the_users_pin(menu: Edge, tmp_path: Path) -> None:
    menu.login("hd3001", "1001")
    steps = ["dtmf:1001#", "dtmf:8264#"] * 3  # Bob's PIN, not hers
    call = menu.dial("hd3002", "*47", scenario(steps, tmp_path), "anywhere-wrong")
    assert call.run() == 0, call.messages
    assert on(menu, "hd3001") == "1001"
    assert outcome(menu)["outcome"] == "locked"


@pytest.fixture
def logout_in_login_namespace(menu: Edge) -> Iterator[Edge]:
    """acme's logout code is *77*5* (3CX style, inside the *77* login
    prefix's namespace) until the test ends."""
    demo = demo_directory_text(menu.gateways)
    text = demo.replace('      logout: "*46"', '      logout: "*77*5*"')
    assert text != demo
    menu.import_directory(text)
    try:
        yield menu
    finally:
        menu.import_directory(demo)


def test_a_logout_code_inside_the_login_prefixs_namespace(
    logout_in_login_namespace: Edge, tmp_path: Path
) -> None:
    edge = logout_in_login_namespace
    edge.login("hd3001", "1001")
    call = edge.dial("hd3001", "*77*5*", scenario(["dtmf:4711#"], tmp_path), "77-5")
    assert call.run() == 0, call.messages
    assert on(edge, "hd3001") == ""
    assert (outcome(edge)["code"], outcome(edge)["outcome"]) == ("logout", "logged_out")


@pytest.fixture
def german_acme(menu: Edge) -> Iterator[Edge]:
    """acme's language is German until the test ends."""
    demo = demo_directory_text(menu.gateways)
    zone = "    timezone: Europe/Berlin "
    text = demo.replace(zone, "    language: de\n" + zone)
    assert text.count("language: de") == 1
    menu.import_directory(text)
    try:
        yield menu
    finally:
        menu.import_directory(demo)


def test_a_german_tenant_hears_the_german_prompts(german_acme: Edge, tmp_path: Path) -> None:
    """What reaches the phone is the German recording of the first prompt
    (made by scripts/make_prompts.sh from prompt_texts/de.txt), not the
    English one."""
    prompts = MenuSettings.model_fields["prompts_dir"].default
    german = (prompts / "de" / "enter_extension.ul").read_bytes()
    english = (prompts / "en" / "enter_extension.ul").read_bytes()
    with RtpReceiver() as rtp:
        steps = scenario(["pause:2000"], tmp_path, end="hangup", rtp_port=str(rtp.port))
        call = german_acme.dial("hd3001", "*45", steps, "german")
        assert call.run() == 0, call.messages
        time.sleep(0.3)
    (payloads,) = rtp.payloads.values()
    heard = b"".join(payloads)
    assert len(heard) >= 8000  # a second of it at least
    assert german.startswith(heard[:8000]) and not english.startswith(heard[:8000])


def test_sip_info_digits(menu: Edge) -> None:
    """The README's voice-menu login (tests/sip/menu_login.xml)."""
    call = menu.dial("hd3001", "*45", SCENARIOS / "menu_login.xml", "info")
    assert call.run() == 0, call.messages
    assert on(menu, "hd3001") == "1001"
    assert outcome(menu)["dtmf"] == "info"


def test_cancel_while_ringing_and_hangup_mid_menu_leave_nothing(menu: Edge, tmp_path: Path) -> None:
    cancel = menu.dial("hd3001", "*45", scenario([], tmp_path, end="cancel"), "cancel")
    assert cancel.run() == 0, cancel.messages
    assert cancel.received(487)
    hangup = menu.dial(
        "hd3001", "*45", scenario(["dtmf:1001#", "dtmf:47"], tmp_path, end="hangup"), "bye"
    )
    assert hangup.run() == 0, hangup.messages
    assert on(menu, "hd3001") == ""
    assert outcome(menu)["outcome"] == "abandoned"


def test_hold_and_resume_then_log_in(menu: Edge, tmp_path: Path) -> None:
    steps = ["reinvite:hold", "pause:500", "reinvite:resume", "dtmf:1002#", "dtmf:8264#"]
    call = menu.dial("hd3002", "*45", scenario(steps, tmp_path, codec=8), "hold")
    assert call.run() == 0, call.messages
    assert on(menu, "hd3002") == "1002"


def test_fifty_calls_at_once_keep_the_pace_of_one(menu: Edge, tmp_path: Path) -> None:
    """Every call hears the first prompt for 3 s, then hangs up; the prompt
    RTP of all 50 arrives at one receiver. What load must not change: every
    packet sent arrives, in order, at the pace one call alone gets in the
    same run (absolute times are for ``make bench``)."""
    alone, _ = concurrent_calls(menu.target, 1, tmp_path / "one")
    (pace,) = alone.median_spacings_ms()
    before = menu.menu.metrics()["hotdesk_menu_rtp_packets_sent_total"]
    rtp, _ = concurrent_calls(menu.target, 50, tmp_path / "fifty")
    assert len(rtp.arrivals) == 50  # one stream per call
    received = sum(len(t) for t in rtp.arrivals.values())
    sent = menu.menu.metrics()["hotdesk_menu_rtp_packets_sent_total"] - before
    assert received == sent and received > 50 * 100  # ~3 s of prompt each
    for seqs in rtp.sequences.values():
        assert [(b - a) % 65536 for a, b in itertools.pairwise(seqs)] == [1] * (len(seqs) - 1)
    for stream_pace in rtp.median_spacings_ms():
        assert abs(stream_pace - pace) <= 0.25 * pace, (stream_pace, pace)


def _signed(edge: Edge, call_id: str, device: str = "hd3001") -> str:
    """X-Hotdesk-Device as the edge signs it (the tests play the edge)."""
    value = header_value(load_key(edge.menu_key), device, "127.0.0.1", int(time.time()), call_id)
    return f"X-Hotdesk-Device: {value}\r\n"


def _invite(device_header: str) -> bytes:
    return (
        "INVITE sip:*45@hotdesk.local SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.3:5099;branch=z9hG4bKdirect\r\n"
        "From: <sip:hd3001@hotdesk.local>;tag=x\r\nTo: <sip:*45@hotdesk.local>\r\n"
        f"Call-ID: direct\r\nCSeq: 1 INVITE\r\n{device_header}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("source", "signed", "status"),
    [
        ("127.0.0.3", True, b"403 Only the edge"),  # not the edge, even with a signature
        ("127.0.0.1", False, b"403 No signed X-Hotdesk-Device"),  # the edge always signs
    ],
)
def test_the_menu_serves_only_the_edge_naming_a_device(
    menu: Edge, source: str, signed: bool, status: bytes
) -> None:
    """Forged, stale and misplaced signatures: tests/security."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(3)
        header = _signed(menu, "direct") if signed else ""
        sock.sendto(_invite(header), ("127.0.0.1", menu.menu_port))
        answer = sock.recv(4096)
    assert answer.startswith(b"SIP/2.0 " + status), answer


def _direct(
    edge: Edge, call_id: str, body: str = "", method: str = "INVITE", to_tag: str = ""
) -> bytes:
    """A request straight to the menu, as the edge would relay it."""
    cseq = {"INVITE": 1, "ACK": 1, "BYE": 2, "OPTIONS": 1}[method]
    to = "<sip:*45@hotdesk.local>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:*45@hotdesk.local SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK{call_id}{method}\r\n"
        f"From: <sip:hd3003@hotdesk.local>;tag=p\r\nTo: {to}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
        "Contact: <sip:hd3003@127.0.0.1:5099>\r\n"
        + (_signed(edge, call_id, "hd3003") if method == "INVITE" and not to_tag else "")
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def _replies(sock: socket.socket, within: float) -> list[bytes]:
    out, deadline = [], time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            out.append(sock.recv(4096))
        except TimeoutError:
            break
    return out


def test_transactions_retransmissions_and_options(menu: Edge) -> None:
    offer = (
        "v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 9 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    target = ("127.0.0.1", menu.menu_port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.sendto(_direct(menu, "opt", method="OPTIONS"), target)
        (options,) = _replies(sock, 1.0)
        assert options.startswith(b"SIP/2.0 200") and b"Allow: INVITE, ACK, BYE" in options
        sock.sendto(_direct(menu, "rt", offer), target)
        # 100, 180 (ringing 0.5 s), 200 — and the 200 again while no ACK comes.
        got = _replies(sock, 2.2)
        finals = [r for r in got if r.startswith(b"SIP/2.0 200")]
        assert len(finals) >= 2 and len(set(finals)) == 1, got
        assert b"m=audio" in finals[0] and b"RTP/AVP 8 101" in finals[0]  # PCMA chosen
        sock.sendto(_direct(menu, "rt", offer), target)  # the INVITE retransmitted
        assert _replies(sock, 0.3)[0] == finals[0]  # answered the same, not a 2nd call
        tag = finals[0].split(b"To: ")[1].split(b"tag=")[1].split(b"\r\n")[0].decode()
        sock.sendto(_direct(menu, "rt", method="ACK", to_tag=tag), target)
        sock.sendto(_direct(menu, "rt", method="BYE", to_tag=tag), target)
        bye = [r for r in _replies(sock, 1.0) if b"CSeq: 2 BYE" in r]
        assert bye and bye[0].startswith(b"SIP/2.0 200")
    assert outcome(menu)["outcome"] == "abandoned"


def test_a_silent_caller_is_told_and_hung_up_on(menu: Edge, tmp_path: Path) -> None:
    call = menu.dial("hd3001", "*45", scenario([], tmp_path), "silent")
    assert call.run() == 0, call.messages  # the menu sends the BYE
    assert outcome(menu)["outcome"] == "timeout"
