"""The tests' certificate authority: one per test session, a certificate per
identity on demand, and the settings, environment and channels that use
them (gRPC is mutual TLS only)."""

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

import grpc

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
