"""The voice menu's pure parts: which code was dialled, SDP offer/answer,
DTMF decoding, prompt lookup."""

from pathlib import Path

import pytest

from services.auth.menu.dtmf import EventDecoder, info_digit
from services.auth.menu.flow import Dialled, dialled
from services.auth.menu.prompts import MissingPrompt, PromptLibrary
from services.auth.menu.sdp import NoCommonCodec, answer, parse_offer
from services.kernel.tenants import FeatureCodes, TenantConfig

TENANT = TenantConfig(
    id="acme", domain="hotdesk.local", feature_codes=FeatureCodes(login="*44", logout="*55")
)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("*44", Dialled("login")),
        ("*55", Dialled("logout")),
        ("*77*1001*", Dialled("login", "1001")),
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
