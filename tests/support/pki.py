"""The tests' certificate authority: one per test session, a certificate per
identity on demand, and the settings, environment and channels that use
them (gRPC is mutual TLS only)."""

import atexit
import shutil
import socket
import ssl
import tempfile
from functools import cache
from pathlib import Path

import grpc
from cryptography import x509

from services.devstack.pki import LOCAL_HOSTS, Credentials, LocalCa

OPERATOR = "operator:test"


@cache
def _ca() -> LocalCa:
    folder = Path(tempfile.mkdtemp(prefix="hotdesk-test-pki-"))
    atexit.register(shutil.rmtree, folder, True)
    return LocalCa(folder, "hotdesk-edge test CA")


def credentials(identity: str) -> Credentials:
    """A certificate for ``identity`` (``service:auth``, ``operator:ann``),
    also valid as a server certificate for this machine."""
    stem = identity.replace(":", "-")
    return _ca().issue(stem, identity, LOCAL_HOSTS)


def service_identity(name: str) -> str:
    return f"service:{name}"


def tls_settings(identity: str) -> dict[str, Path]:
    """The settings fields of a service or the CLI with that identity."""
    c = credentials(identity)
    return {"grpc_tls_cert_file": c.cert, "grpc_tls_key_file": c.key, "grpc_tls_ca_file": c.ca}


def tls_env(prefix: str, identity: str) -> dict[str, str]:
    """The same as environment variables (``HOTDESK_AUTH_`` prefix)."""
    return {f"{prefix}{k.upper()}": str(v) for k, v in tls_settings(identity).items()}


def _credentials(identity: str) -> grpc.ChannelCredentials:
    c = credentials(identity)
    return grpc.ssl_channel_credentials(
        root_certificates=c.ca.read_bytes(),
        private_key=c.key.read_bytes(),
        certificate_chain=c.cert.read_bytes(),
    )


def channel(address: str, identity: str = OPERATOR) -> grpc.Channel:
    """A blocking channel presenting ``identity``."""
    return grpc.secure_channel(address, _credentials(identity))


def aio_channel(address: str, identity: str = OPERATOR) -> grpc.aio.Channel:
    """An asyncio channel presenting ``identity``."""
    return grpc.aio.secure_channel(address, _credentials(identity))


def served_serial(port: int, context: ssl.SSLContext) -> int:
    """The serial number of the certificate a TLS port on this machine
    presents to a client with ``context``."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number
