"""``digest``: the header parser and the nonce check, whose signatures are
remembered per nonce (the nonce's age is judged on every request)."""

import hashlib

from services.provision.digest import DigestAuth, DigestResponse, parse_authorization

REALM = "hotdesk-provisioning"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _answer(nonce: str, password: str, uri: str = "/001565aa3001.cfg") -> DigestResponse:
    ha1, ha2 = _md5(f"hd3001:{REALM}:{password}"), _md5(f"GET:{uri}")
    response = _md5(f"{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}")
    return DigestResponse("hd3001", REALM, nonce, uri, response, "auth", "00000001", "c0ffee")


def test_the_parser_reads_quoted_escaped_empty_and_plain_values() -> None:
    header = (
        r'Digest username="hd\"3001", realm="hotdesk-provisioning", nonce="a.b", '
        r'uri="/x.cfg", response="ABC", qop=auth, nc=00000001, cnonce=""'
    )
    answer = parse_authorization(header)
    assert answer == DigestResponse(
        r"hd\"3001", REALM, "a.b", "/x.cfg", "abc", "auth", "00000001", ""
    )
    assert parse_authorization('Basic username="x"') is None
    assert parse_authorization('Digest username="x", realm="r"') is None


def test_a_remembered_nonce_still_ages_and_a_forged_one_never_passes() -> None:
    digest = DigestAuth(REALM, b"k" * 32, max_age=300)
    nonce = digest.nonce(now=1_000_000)
    for _ in range(2):  # the second check answers from the remembered signature
        assert digest.verify(_answer(nonce, "pw"), "GET", "pw", now=1_000_010) == "ok"
    assert digest.verify(_answer(nonce, "pw"), "GET", "pw", now=1_000_400) == "stale"
    assert digest.verify(_answer(nonce, "wrong"), "GET", "pw", now=1_000_010) == "denied"
    stamp = nonce.partition(".")[0]
    forged = f"{stamp}.{'0' * 32}"
    other = DigestAuth(REALM, b"o" * 32, max_age=300).nonce(now=1_000_000)
    for _ in range(2):
        for bad in (forged, other, "nonsense", f"zz.{nonce.partition('.')[2]}"):
            assert digest.verify(_answer(bad, "pw"), "GET", "pw", now=1_000_010) == "denied"
