"""Credentials at the edge, on an edge of their own (a ban lasts 15
minutes): failed digests ban a source address and a device, but never an
emergency call; a replaced SIP secret still works for its grace window; a
renewed TLS certificate is served without a restart."""

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509

from services.devstack.pki import LocalCa
from services.kernel import keys
from tests.support import pki
from tests.support.demo import DOMAIN, demo_directory_text, secret
from tests.support.edge import Edge, edge_stack
from tests.support.sip_phone import SipPhone

PER_IP = 5
PER_DEVICE = 3


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    limits = {
        "HD_AUTH_FAILS_PER_IP": PER_IP,
        "HD_AUTH_FAILS_PER_USER": PER_DEVICE,
        "HD_TLS_CHECK_SECONDS": 1,
    }
    with edge_stack(tmp_path_factory.mktemp("bans"), kamailio_limits=limits) as e:
        yield e


def _register(edge: Edge, device: str, local_ip: str, password: str | None = None) -> int:
    with SipPhone(
        ("127.0.0.1", edge.kamailio.sip_port),
        device,
        password if password is not None else secret(device),
        local_ip=local_ip,
    ) as p:
        return p.register().status


def test_a_source_address_is_refused_after_repeated_failures(edge: Edge) -> None:
    """Guessing unknown devices from one address: after PER_IP failures even
    a right password from there is refused; other addresses are not."""
    for i in range(PER_IP):
        assert _register(edge, f"guess{i}", "127.0.0.31", "wrong") == 403
    assert _register(edge, "hd3001", "127.0.0.31") == 403
    assert _register(edge, "hd3001", "127.0.0.32") == 200
    assert edge.kamailio.counter("hotdesk_auth_banned_total") >= 1


def test_a_device_is_refused_after_repeated_failures_from_anywhere(edge: Edge) -> None:
    """Wrong passwords for one device from several addresses: after
    PER_DEVICE failures its right password is refused from a fresh address
    too, while other devices register."""
    for i in range(PER_DEVICE):
        assert _register(edge, "hd3003", f"127.0.0.{41 + i}", "wrong") == 403
    assert _register(edge, "hd3003", "127.0.0.45") == 403
    assert _register(edge, "hd3002", "127.0.0.45") == 200


def test_an_emergency_call_passes_a_ban(edge: Edge) -> None:
    """A banned device (and address) still reaches the emergency gateway."""
    for _ in range(PER_IP):
        _register(edge, "hd3001", "127.0.0.51", "wrong")
    assert _register(edge, "hd3001", "127.0.0.51") == 403
    gateway = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gateway.bind(("127.0.0.1", edge.emergency_port))
    gateway.settimeout(5)
    try:
        with SipPhone(
            ("127.0.0.1", edge.kamailio.sip_port), "hd3001", secret("hd3001"), local_ip="127.0.0.51"
        ) as p:
            invite = p.request("INVITE", f"sip:112@{DOMAIN}", body="v=0\r\n")
            p.send(p.authorized(invite, p.transaction(invite)))
            data, _ = gateway.recvfrom(65535)
        assert data.startswith(b"INVITE sip:112")
    finally:
        gateway.close()


def _served_serial(port: int) -> int:
    """What a phone verifying the edge's CA is shown on the TLS port."""
    context = ssl.create_default_context(cafile=str(pki.credentials("sip:edge").ca))
    return pki.served_serial(port, context)


def test_a_renewed_certificate_is_served_without_a_restart(edge: Edge, tmp_path: Path) -> None:
    """The certificate files are rewritten (as cert-manager does): new TLS
    connections get the new certificate within seconds; Kamailio stays up."""
    before = _served_serial(edge.kamailio.tls_port)
    reloads = edge.kamailio.counter("hotdesk_tls_reloads_total")
    live = pki.credentials("sip:edge")
    renewed = LocalCa(live.ca.parent).issue("renewed", "sip:edge", ("127.0.0.1", "localhost"))
    live.key.write_bytes(renewed.key.read_bytes())
    live.cert.write_bytes(renewed.cert.read_bytes())
    deadline = time.monotonic() + 20
    while edge.kamailio.counter("hotdesk_tls_reloads_total") <= reloads:
        assert time.monotonic() < deadline, edge.kamailio.log[-2000:]
        time.sleep(0.2)
    after = _served_serial(edge.kamailio.tls_port)
    assert after != before
    assert after == x509.load_pem_x509_certificate(renewed.cert.read_bytes()).serial_number
    assert edge.kamailio.proc is not None and edge.kamailio.proc.poll() is None


def test_a_replaced_secret_registers_until_its_grace_ends(edge: Edge) -> None:
    """After an import changes hd3002's secret, a phone still using the old
    one registers (it has not fetched its new file yet), the new one too;
    once the grace has passed only the new one does."""
    old, new = secret("hd3002"), "rotated-secret-hd3002"
    edge.import_directory(demo_directory_text(edge.gateways).replace(old, new))
    assert _register(edge, "hd3002", "127.0.0.61", old) == 200
    assert _register(edge, "hd3002", "127.0.0.61", new) == 200
    assert _register(edge, "hd3002", "127.0.0.62", "neither") == 403
    with redis.Redis.from_url(edge.redis.url, decode_responses=True) as primary:
        primary.hset(keys.sip_credentials(DOMAIN, "hd3002"), "prev_until", "1")
    deadline = time.monotonic() + 10
    while _register(edge, "hd3002", "127.0.0.63", old) != 403:
        assert time.monotonic() < deadline, "the old secret kept working"
        time.sleep(0.2)
    assert _register(edge, "hd3002", "127.0.0.64", new) == 200
