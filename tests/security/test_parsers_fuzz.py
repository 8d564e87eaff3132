"""Property-based fuzzing of what the voice menu reads from the network: the
SDP offer, the SIP message and the signed device header. Any input either
parses or raises the parser's own error, never anything else (an
IndexError in the SDP parser was a finding)."""

import contextlib
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.menu.edge_signature import (
    EdgeSignature,
    SignatureError,
    SignedDevice,
    header_value,
)
from services.menu.sdp import Offer, SdpError, parse_offer
from services.sip.message import SipMessage, SipParseError, parse

FUZZ = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)

# SDP-shaped text: lines of known kinds with arbitrary values, so that the
# fuzzer reaches the parser's branches rather than stopping at line one.
_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "audio",
            "audio 4000 RTP/AVP 0 101",
            "audio 0 RTP/AVP 8",
            "audio x",
            "IN IP4 127.0.0.1",
            "IN IP6 ::1",
            "IN IP4 phone.example",
            "IN IP4 10.0.0.1/127",
            "IN",
            "rtpmap:101 telephone-event/8000",
            "rtpmap:x",
            "sendonly",
            "",
        ]
    ),
)
_line = st.tuples(st.sampled_from(["v", "o", "s", "c", "t", "m", "a", "x", ""]), _values).map(
    lambda kv: f"{kv[0]}={kv[1]}"
)
sdp_texts = st.one_of(
    st.text(max_size=300),
    st.lists(_line, max_size=12).map("\r\n".join),
)


@FUZZ
@given(sdp_texts)
def test_any_offer_parses_or_raises_sdp_error(body: str) -> None:
    try:
        offer = parse_offer(body)
    except SdpError:
        return
    assert isinstance(offer, Offer) and 0 < offer.port < 65536 and offer.codec in (0, 8)


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_as_an_offer_parse_or_raise_sdp_error(data: bytes) -> None:
    with contextlib.suppress(SdpError):
        parse_offer(data.decode(errors="replace"))


_header_lines = st.lists(
    st.tuples(
        st.sampled_from(["Via", "From", "To", "Call-ID", "CSeq", "Content-Length", "X", " x"]),
        st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=30),
    ).map(lambda kv: f"{kv[0]}: {kv[1]}"),
    max_size=8,
)
sip_messages = st.one_of(
    st.binary(max_size=400),
    st.tuples(
        st.sampled_from(["INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "BYE x SIP/2.0", "x"]),
        _header_lines,
        st.binary(max_size=40),
    ).map(
        # surrogatepass: lone surrogates become bytes that are not UTF-8
        lambda m: ("\r\n".join([m[0], *m[1]]) + "\r\n\r\n").encode(errors="surrogatepass") + m[2]
    ),
)


@FUZZ
@given(sip_messages)
def test_any_datagram_parses_or_raises_sip_parse_error(data: bytes) -> None:
    try:
        message = parse(data)
    except SipParseError:
        return
    assert isinstance(message, SipMessage)
    message.cseq  # noqa: B018 - usable once parsed
    if message.is_request:
        assert message.method


KEY = b"0" * 64
NOW = 1_800_000_000


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.text(max_size=120),
            st.builds(
                lambda d, s, t, c: header_value(KEY, d, s, t, c),
                st.text(max_size=20),
                st.sampled_from(["127.0.0.1", "::1", "x", ""]),
                st.integers(min_value=0, max_value=NOW * 2),
                st.text(max_size=10),
            ),
        ),
        max_size=3,
    ),
    st.text(max_size=20),
)
def test_any_device_header_verifies_or_raises_signature_error(
    values: list[str], call_id: str
) -> None:
    verifier = EdgeSignature(KEY, 30, clock=lambda: float(NOW))
    try:
        signed = verifier.verify(values, call_id)
    except SignatureError as exc:
        assert exc.reason and str(exc)
        return
    assert isinstance(signed, SignedDevice) and abs(NOW - signed.ts) <= 30


def test_the_signature_round_trips() -> None:
    now = int(time.time())
    value = header_value(KEY, "hd3001", "127.0.0.2", now, "call-1")
    assert EdgeSignature(KEY, 30).verify([value], "call-1") == SignedDevice(
        "hd3001", "127.0.0.2", now
    )
