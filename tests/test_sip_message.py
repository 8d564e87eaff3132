"""The shared SIP message module: parsing what real peers send, building
what we send."""

import pytest

from services.sip.message import SipParseError, param, parse, response_to, uri_of

INVITE = (
    b"INVITE sip:*45@hotdesk.local SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKdef, SIP/2.0/UDP 10.0.0.2\r\n"
    b'f: "Desk" <sip:hd3001@hotdesk.local>;tag=1\r\n'
    b"t: <sip:*45@hotdesk.local>\r\n"
    b"i: abc@host\r\n"
    b"CSeq: 2 INVITE\r\n"
    b"Record-Route: <sip:127.0.0.1;lr;ftag=1>\r\n"
    b"X-Hotdesk-Device: hd3001\r\n"
    b"Subject: folded\r\n  line\r\n"
    b"l: 5\r\n\r\nhello-and-more"
)


def test_parse_expands_compact_forms_and_lists() -> None:
    m = parse(INVITE)
    assert (m.method, m.request_uri, m.call_id, m.cseq) == (
        "INVITE",
        "sip:*45@hotdesk.local",
        "abc@host",
        (2, "INVITE"),
    )
    assert m.branch == "z9hG4bKabc"
    assert len(m.get_all("via")) == 3
    assert m.get("X-HOTDESK-DEVICE") == "hd3001"
    assert m.get("subject") == "folded line"
    assert m.body == b"hello"  # Content-Length, not the datagram, sizes the body
    assert uri_of(m["from"]) == "sip:hd3001@hotdesk.local" and param(m["from"], "tag") == "1"


def test_response_copies_the_dialog_headers_and_sizes_the_body() -> None:
    m = parse(INVITE)
    r = response_to(m, 200, "OK", "menu1")
    r.body = b"v=0\r\n"
    again = parse(r.to_bytes())
    assert again.status == 200 and again.method == "INVITE"
    assert param(again["to"], "tag") == "menu1"
    assert again.get_all("record-route") == ["<sip:127.0.0.1;lr;ftag=1>"]
    assert again["content-length"] == "5" and again.body == b"v=0\r\n"


@pytest.mark.parametrize(
    "data",
    [
        b"garbage",
        b"INVITE sip:x SIP/2.0\r\nVia: a\r\n\r\n",  # no From, To, Call-ID, CSeq
        b"HELLO\r\n\r\n",
        INVITE.replace(b"l: 5", b"l: 500"),  # body shorter than announced
        INVITE.replace(b"CSeq: 2 INVITE", b"CSeq: two INVITE"),
        b"INVITE sip:x SIP/2.0\r\nno colon here\r\n\r\n",
    ],
)
def test_malformed_messages_are_refused(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse(data)
