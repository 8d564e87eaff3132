"""A local certificate authority for `make run` and the tests: one CA, and
a certificate per identity (a service, an operator, the SIP edge).

Production uses its own CA (cert-manager in Kubernetes); this only makes
the same kind of files for a machine with nothing set up. The identity a
certificate carries is its subject CN (``service:auth``,
``operator:alice``); server certificates also name the hosts they serve
(subjectAltName), so clients verify the host they dialled.
"""

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAYS = 825  # the longest validity clients still accept for leaf certificates
_RENEW_WITHIN = datetime.timedelta(days=30)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Credentials:
    """A certificate, its key and the CA that signed it (PEM files)."""

    cert: Path
    key: Path
    ca: Path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _valid(path: Path, now: datetime.datetime) -> bool:
    """A certificate file that exists and stays valid for a while yet."""
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc - now > _RENEW_WITHIN


class LocalCa:
    """The CA in ``folder`` (``ca.crt``, ``ca.key``), made on first use."""

    def __init__(self, folder: Path, name: str = "hotdesk-edge local CA") -> None:
        self.folder = folder
        self.cert_path = folder / "ca.crt"
        self._key_path = folder / "ca.key"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = datetime.datetime.now(datetime.UTC)
        if not (_valid(self.cert_path, now) and self._key_path.exists()):
            self._create(name, now)
        self._cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        key = serialization.load_pem_private_key(self._key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self._key = key

    def _create(self, name: str, now: datetime.datetime) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        _write_private(self._key_path, _key_pem(key))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, identity: str, hosts: tuple[str, ...] = ()) -> Credentials:
        """``<stem>.crt``/``<stem>.key`` for ``identity`` (the CN), usable as
        a client certificate and, with ``hosts``, as a server certificate
        for them; kept if present and valid."""
        cert_path, key_path = self.folder / f"{stem}.crt", self.folder / f"{stem}.key"
        now = datetime.datetime.now(datetime.UTC)
        if not (_valid(cert_path, now) and key_path.exists() and self._same(cert_path, identity)):
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
                .issuer_name(self._cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(
                    x509.ExtendedKeyUsage(
                        [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
                    ),
                    critical=False,
                )
            )
            if hosts:
                builder = builder.add_extension(_san(hosts), critical=False)
            cert = builder.sign(self._key, hashes.SHA256())
            _write_private(key_path, _key_pem(key))
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return Credentials(cert_path, key_path, self.cert_path)

    @staticmethod
    def _same(cert_path: Path, identity: str) -> bool:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return bool(names) and names[0].value == identity
