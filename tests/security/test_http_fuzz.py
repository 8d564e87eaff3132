"""Property-based fuzzing of the HTTP endpoints, against the running
services: the binding service's Kamailio lookup and the provision service's
phone files. Whatever arrives, the answer is one the endpoint means (never
a 500, never a traceback), and a file request without valid credentials
gets the same 401 whether the MAC-shaped name is a known device or not.
(No endpoint has an OpenAPI description, so there is nothing for a
schema-driven fuzzer to read.)"""

import http.client
import json
import re
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.edge import Edge
from tests.support.service_process import ServiceProcess

FUZZ = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
MAC_SHAPED = re.compile(r"[0-9a-f]{12}(-hotdesk)?\.cfg")
PARAMS = ("caller_user", "caller_domain", "callee_user", "callee_domain", "caller_peer")


def _utf8_text(max_size: int) -> st.SearchStrategy[str]:
    """Text that can be sent at all (percent-encoded or as a header): no
    lone surrogates, which UTF-8 cannot encode."""
    return st.text(st.characters(codec="utf-8"), max_size=max_size)


# Header values http.client can send: no CR, LF or NUL.
_header_text = st.text(st.characters(codec="utf-8", blacklist_characters="\r\n\x00"), max_size=80)


def _request(
    port: int, method: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value.encode("utf-8"))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


_query_values = st.one_of(
    _utf8_text(max_size=30),
    st.sampled_from(["hd3001", "1001", "+4930123451001", "hotdesk.local", "*45", "112", ""]),
)
_queries = st.lists(
    st.tuples(st.one_of(st.sampled_from(PARAMS), _utf8_text(max_size=10)), _query_values),
    max_size=7,
)


@FUZZ
@given(query=_queries)
def test_the_lookup_answers_every_query_with_json_it_means(
    security_edge: Edge, query: list[tuple[str, str]]
) -> None:
    target = "/v1/route?" + urllib.parse.urlencode(query)
    status, body = _request(security_edge.binding.ports["http"], "GET", target)
    assert status in (200, 400), (status, body)
    answer = json.loads(body)
    if status == 200:
        assert {"caller_kind", "callee_kind"} <= answer.keys()
    else:
        assert set(answer) == {"error"}


@FUZZ
@given(path=_utf8_text(max_size=40), method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
def test_the_lookup_serves_nothing_else(security_edge: Edge, path: str, method: str) -> None:
    target = "/" + urllib.parse.quote(path)
    if target.startswith("/v1/route"):
        return
    status, _ = _request(security_edge.binding.ports["http"], method, target)
    assert status in (404, 405)


@pytest.fixture(scope="module")
def provision(security_edge: Edge) -> Iterator[ServiceProcess]:
    service = security_edge.provision(
        security_edge.logs.parent / "provision-fuzz.log",
        "fuzz",
        {
            # Every fuzzed request is a failed digest: no rate limit here,
            # so that each one reaches the answer it would get.
            "HOTDESK_PROVISION_DIGEST_FAILURES_PER_MAC": "1000000",
            "HOTDESK_PROVISION_DIGEST_FAILURES_PER_ADDRESS": "1000000",
        },
    )
    service.start()
    yield service
    service.stop()


_macs = st.one_of(
    st.sampled_from(["001565aa3001", "001565aa3002", "0004f2aa3003"]),  # the demo's devices
    st.text("0123456789abcdef", min_size=12, max_size=12),  # mostly nobody's
    _utf8_text(max_size=14),
)
_names = st.one_of(
    _macs.map(lambda mac: urllib.parse.quote(f"{mac}.cfg")),
    _macs.map(lambda mac: urllib.parse.quote(f"{mac}-hotdesk.cfg")),
    _utf8_text(max_size=30).map(urllib.parse.quote),
)
_digest = st.builds(
    lambda user, fields: (
        "Digest " + ", ".join([f'username="{user}"', *(f'{k}="{v}"' for k, v in fields)])
    ),
    st.one_of(st.sampled_from(["hd3001", "hd3002", "hd3003", "nobody"]), _header_text),
    st.lists(
        st.tuples(
            st.sampled_from(["realm", "nonce", "uri", "response", "qop", "nc", "cnonce", "x"]),
            # Sendable: UTF-8 (no lone surrogates), no quote, CR, LF, NUL or backslash.
            st.text(st.characters(codec="utf-8", blacklist_characters='"\r\n\x00\\'), max_size=40),
        ),
        max_size=8,
    ),
)


@FUZZ
@given(
    name=_names,
    user_agent=st.one_of(
        st.sampled_from(
            [
                "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:30:01",
                "FileTransport PolycomVVX-VVX_450-UA/6.4.3.1234 (SN:0004f2aa3003) Type/Application",
            ]
        ),
        _header_text,
    ),
    authorization=st.one_of(st.none(), _digest, _header_text),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
)
def test_phone_files_answer_strangers_without_telling_who_exists(
    provision: ServiceProcess,
    name: str,
    user_agent: str,
    authorization: str | None,
    method: str,
) -> None:
    headers = {"User-Agent": user_agent}
    if authorization is not None:
        headers["Authorization"] = authorization
    status, body = _request(provision.ports["http"], method, f"/{name}", headers)
    assert status < 500, (status, body[:200])
    assert b"Traceback" not in body
    # Nothing the fuzzer sends is a valid digest: no device's file (and its
    # SIP secret) ever comes back; a MAC-shaped name gets the same 401
    # whether the MAC is a known device or not.
    assert b"demo-secret" not in body
    if method == "GET" and MAC_SHAPED.fullmatch(name) and not name.startswith("000000000000"):
        assert status in (400, 401), (name, status)  # 400: a header HTTP does not allow
        nobody = "0123456789ab" + name[12:]
        assert _request(provision.ports["http"], method, f"/{nobody}", headers)[0] == status
