"""The voice menu's pure parts: which code was dialled, SDP offer/answer,
DTMF decoding, prompt lookup."""

from pathlib import Path

import pytest

from services.kernel.tenants import FeatureCodes, TenantConfig
from services.menu.dtmf import EventDecoder, info_digit
from services.menu.flow import Dialled, dialled
from services.menu.limits import CallLimits
from services.menu.prompts import MissingPrompt, PromptLibrary
from services.menu.rtp import MediaSession
from services.menu.sdp import NoCommonCodec, NotAnAddress, SdpError, answer, parse_offer

TENANT = TenantConfig(
    id="acme", domain="hotdesk.local", feature_codes=FeatureCodes(login="*44", logout="*55")
)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("*44", Dialled("login")),
        ("*55", Dialled("logout")),
        ("*77*1001*", Dialled("login", "1001")),
        ("*47", Dialled("logout_anywhere")),
        ("*45", None),  # the default code, not this tenant's
        ("*77**", None),
        ("*77*10a1*", None),
    ],
)
def test_dialled_codes_are_the_tenants(number: str, expected: Dialled | None) -> None:
    assert dialled(TENANT, number) == expected


OFFER = (
    "v=0\r\no=p 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 18 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
)


def test_offer_picks_the_phones_first_g711_and_telephone_event() -> None:
    offer = parse_offer(OFFER)
    assert (offer.address, offer.port, offer.codec, offer.event_pt) == ("10.1.1.1", 4000, 8, 96)
    sdp = answer(offer, "127.0.0.1", 5000, 7, 1)
    assert "m=audio 5000 RTP/AVP 8 96" in sdp and "a=rtpmap:96 telephone-event/8000" in sdp
    held = parse_offer(OFFER + "a=sendonly\r\n")
    assert held.on_hold and "a=recvonly" in answer(held, "127.0.0.1", 5000, 7, 2)
    with pytest.raises(NoCommonCodec):
        parse_offer(OFFER.replace("18 8 0 96", "18 96"))


def test_rfc4733_events_become_one_digit_each_even_when_repeated() -> None:
    decoder = EventDecoder()
    start, end = bytes([0, 10, 0, 0]), bytes([0, 0x8A, 1, 64])
    seen = [decoder.feed(100, p) for p in (start, start, end, end, end)]
    assert seen == ["0", None, None, None, None]
    # The same capture replayed (same timestamp): a second press of 0.
    seen = [decoder.feed(100, p) for p in (start, end, end)]
    assert seen == ["0", None, None]
    assert decoder.feed(900, bytes([11, 0x8A, 1, 64])) == "#"  # start packets lost
    assert decoder.feed(901, bytes([99, 0, 0, 0])) is None  # not a DTMF event


def test_info_bodies() -> None:
    assert info_digit("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n") == "5"
    assert info_digit("application/dtmf-relay", b"Signal=#\r\n") == "#"
    assert info_digit("application/dtmf", b"11") == "#"
    assert info_digit("text/plain", b"5") is None


def test_a_tenants_folder_overrides_any_prompt(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "goodbye.ul").write_bytes(b"english")
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "goodbye.ul").write_bytes(b"deutsch")
    (tmp_path / "tenants" / "acme").mkdir(parents=True)
    (tmp_path / "tenants" / "acme" / "goodbye.ul").write_bytes(b"acme's own")
    library = PromptLibrary(tmp_path)
    assert library.audio("goodbye", 0, "acme", "de") == b"acme's own"
    assert library.audio("goodbye", 0, "globex", "de") == b"deutsch"
    assert library.audio("goodbye", 0, "globex", "fr") == b"english"
    with pytest.raises(MissingPrompt):
        library.audio("goodbye", 8, "globex")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (OFFER.replace("c=IN IP4 10.1.1.1", "c=IN IP4 phone.example"), NotAnAddress),
        (OFFER.replace("m=audio 4000 RTP/AVP 18 8 0 96", "m=audio"), SdpError),
        (OFFER.replace("c=IN IP4 10.1.1.1", "c="), SdpError),
        (OFFER.replace("c=IN IP4 10.1.1.1", "c=IN IP6 10.1.1.1"), SdpError),
    ],
)
def test_an_offer_names_an_ip_literal_in_well_formed_lines(
    body: str, error: type[SdpError]
) -> None:
    with pytest.raises(error):
        parse_offer(body)


def rtp(event: int = 1) -> bytes:
    return bytes([0x80, 96, 0, 1, 0, 0, 0, 100, 0, 0, 0, 1, event, 10, 0, 0])


def test_media_goes_to_the_offer_only_if_it_is_the_phones_address() -> None:
    offered = parse_offer(OFFER)  # 10.1.1.1:4000
    same = MediaSession("10.1.1.1")
    same.offer = offered
    assert same.target == ("10.1.1.1", 4000)
    behind_nat = MediaSession("192.0.2.7")
    behind_nat.offer = offered
    digits: list[str] = []
    behind_nat.on_digit = digits.append
    assert behind_nat.target is None  # nothing sent yet
    behind_nat.datagram_received(rtp(), ("10.1.1.1", 4000))  # not the phone: ignored
    assert behind_nat.target is None and digits == []
    behind_nat.datagram_received(rtp(), ("192.0.2.7", 31000))
    assert behind_nat.target == ("192.0.2.7", 31000) and digits == ["1"]


def test_call_limits_per_device_and_in_total() -> None:
    limits = CallLimits(per_device=2, total=3)
    assert [limits.admit("a") for _ in range(3)] == ["admitted", "admitted", "busy"]
    assert limits.admit("b") == "admitted"
    assert limits.admit("c") == "full"
    limits.release("a")
    assert (limits.admit("c"), limits.active) == ("admitted", 3)
