"""The voice menu through the real edge, and numbers: sipp desk phones key
in a DID (RFC 4733 digits) where the extension is asked for, which the menu
resolves as its own read-only Redis user (a number of two users gets its
own prompt); and a tenant whose extensions are said as numbers. What the
menu said is checked in the prompt RTP the phone receives."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hotdesk.v1 import binding_pb2 as pb

from services.menu.settings import MenuSettings
from tests.support.demo import DIRECTORY
from tests.support.edge import Edge
from tests.support.menu_calls import RtpReceiver, scenario

CAROL_CALLER_ID = 'caller_id: "+4930123451003"'
ACME_TIMEZONE = "    timezone: Europe/Berlin "


def on(edge: Edge, device: str) -> str:
    state = edge.stub().GetByDevice(pb.GetByDeviceRequest(device_id=device))
    return state.binding.extension if state.HasField("binding") else ""


@pytest.fixture
def shared_number(fresh_edge: Edge) -> Iterator[Edge]:
    """The edge with Carol presenting Bob's DID as her caller ID."""
    text = DIRECTORY.read_text()
    assert text.count(CAROL_CALLER_ID) == 1
    fresh_edge.import_directory(text.replace(CAROL_CALLER_ID, 'caller_id: "+4930123451002"'))
    yield fresh_edge
    fresh_edge.import_directory(text)


@pytest.fixture
def spoken_as_numbers(fresh_edge: Edge) -> Iterator[Edge]:
    """The edge with acme's extensions said as numbers."""
    text = DIRECTORY.read_text()
    assert text.count(ACME_TIMEZONE) == 1
    fresh_edge.import_directory(
        text.replace(ACME_TIMEZONE, "    extensions_spoken: number\n" + ACME_TIMEZONE)
    )
    yield fresh_edge
    fresh_edge.import_directory(text)


def test_login_by_did_digits(fresh_edge: Edge, tmp_path: Path) -> None:
    steps = ["dtmf:4930123451001#", "dtmf:4711#"]
    call = fresh_edge.dial("hd3001", "*45", scenario(steps, tmp_path), "did")
    assert call.run() == 0, call.messages
    assert on(fresh_edge, "hd3001") == "1001"


def test_a_user_of_another_tenant_by_did(fresh_edge: Edge, tmp_path: Path) -> None:
    # Gus (globex, company PIN) at an acme desk: the tenants share a cross-tenant group.
    steps = ["dtmf:442071234001#", "dtmf:2580#"]
    call = fresh_edge.dial("hd3002", "*45", scenario(steps, tmp_path), "gus")
    assert call.run() == 0, call.messages
    state = fresh_edge.stub().GetByDevice(pb.GetByDeviceRequest(device_id="hd3002"))
    assert (state.binding.tenant, state.binding.extension) == ("globex", "3001")


def voice_menu_pin_attempts(edge: Edge) -> float:
    """PIN checks the auth service has counted for the voice menu (any result)."""
    return sum(
        value
        for name, value in edge.auth.metrics().items()
        if name.startswith("hotdesk_auth_pin_attempts_total{") and 'channel="voice-menu"' in name
    )


def whole_frames(prompt: str) -> bytes:
    """A prompt's audio as the menu sends it in 20 ms PCMU frames, without
    its last (padded) frame."""
    folder: Path = MenuSettings.model_fields["prompts_dir"].default
    audio = (folder / "en" / f"{prompt}.ul").read_bytes()
    return audio[: len(audio) // 160 * 160]


def outcome_of_next_call(edge: Edge, calls_before: int, within: float = 5) -> str:
    """The outcome the menu logs for the call after ``calls_before`` (it logs
    once the call is over, which may be just after sipp is done)."""
    deadline = time.monotonic() + within
    while len(calls := edge.menu_calls()) <= calls_before:
        assert time.monotonic() < deadline, "the menu logged no end of the call"
        time.sleep(0.1)
    return str(calls[calls_before]["outcome"])


def test_a_number_of_two_users_asks_for_the_extension(shared_number: Edge, tmp_path: Path) -> None:
    """Bob's DID is also Carol's caller ID: the caller hears that the number
    belongs to more than one user and is asked for her extension (no PIN is
    asked for the number, so none is counted), then logs in with it."""
    ambiguous = whole_frames("ambiguous_number")
    attempts = voice_menu_pin_attempts(shared_number)
    calls = len(shared_number.menu_calls())
    # Digits cut a prompt short: wait until the new prompt has played whole.
    pause = len(ambiguous) // 8 + 1500
    steps = ["dtmf:4930123451002#", f"pause:{pause}", "dtmf:1002#", "dtmf:8264#"]
    with RtpReceiver() as rtp:
        call = shared_number.dial(
            "hd3003", "*45", scenario(steps, tmp_path, rtp_port=str(rtp.port)), "shared"
        )
        assert call.run() == 0, call.messages
        time.sleep(0.3)
    (payloads,) = rtp.payloads.values()
    assert ambiguous in b"".join(payloads)
    assert on(shared_number, "hd3003") == "1002"
    assert outcome_of_next_call(shared_number, calls) == "logged_in"
    assert voice_menu_pin_attempts(shared_number) == attempts + 1  # Bob's PIN only


def test_a_number_of_two_users_is_no_wrong_pin(shared_number: Edge, tmp_path: Path) -> None:
    """Keyed in every round, it logs nobody in, and no PIN was tried."""
    attempts = voice_menu_pin_attempts(shared_number)
    calls = len(shared_number.menu_calls())
    call = shared_number.dial(
        "hd3003", "*45", scenario(["dtmf:4930123451002#"] * 3, tmp_path), "shared-3"
    )
    assert call.run() == 0, call.messages
    assert on(shared_number, "hd3003") == ""
    assert outcome_of_next_call(shared_number, calls) == "ambiguous"
    assert voice_menu_pin_attempts(shared_number) == attempts


def heard_in_order(heard: bytes, prompts: list[str]) -> bool:
    """Whether each prompt was played whole, one after the other."""
    at = 0
    for prompt in prompts:
        at = heard.find(whole_frames(prompt), at)
        if at < 0:
            return False
    return True


def test_extensions_spoken_as_numbers(spoken_as_numbers: Edge, tmp_path: Path) -> None:
    """acme's extensions_spoken: number: the login ends with "extension one
    thousand and one is now logged in", not "one zero zero one"."""
    with RtpReceiver() as rtp:
        steps = scenario(["dtmf:1001#", "dtmf:4711#"], tmp_path, rtp_port=str(rtp.port))
        call = spoken_as_numbers.dial("hd3001", "*45", steps, "as-number")
        assert call.run() == 0, call.messages
        time.sleep(0.3)
    assert on(spoken_as_numbers, "hd3001") == "1001"
    (payloads,) = rtp.payloads.values()
    heard = b"".join(payloads)
    as_number = ["extension", "digit-1", "thousand", "and", "digit-1", "now_logged_in"]
    assert heard_in_order(heard, as_number)
    digits = ["extension", "digit-1", "digit-0", "digit-0", "digit-1", "now_logged_in"]
    assert not heard_in_order(heard, digits)
