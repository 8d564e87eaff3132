"""Service identity: gRPC over mutual TLS, and who is calling.

Every service serves gRPC only with TLS and only to clients holding a
certificate of the same CA; every call it makes presents its own. The
identity of a caller is its certificate's subject CN (``service:auth``,
``operator:alice``). Certificates are reread when their files change: a
server picks up a renewed certificate at the next handshake (cert-manager
renews the Secret in place), a client at its next channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import grpc

from services.kernel import correlation
from services.kernel.errors import MissingConfiguration
from services.kernel.logs import fields

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]

log = logging.getLogger(__name__)

OPERATOR = "operator"  # the role of every "operator:<name>" identity
# The admin service: acts for the signed-in operator it names as the channel
# (``service:admin/<operator>``), after checking that operator's role and tenants.
ADMIN = "service:admin"


class TlsFiles(Protocol):
    grpc_tls_cert_file: Path | None
    grpc_tls_key_file: Path | None
    grpc_tls_ca_file: Path | None


class MissingIdentity(MissingConfiguration):
    """gRPC needs this process's certificate, key and CA."""


@dataclass(frozen=True)
class TlsMaterial:
    cert: Path
    key: Path
    ca: Path

    @classmethod
    def of(cls, settings: TlsFiles, who: str) -> TlsMaterial:
        files = (settings.grpc_tls_cert_file, settings.grpc_tls_key_file, settings.grpc_tls_ca_file)
        if not all(files):
            raise MissingIdentity(
                f"{who}: gRPC is mutual TLS only; set GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and "
                "GRPC_TLS_CA_FILE (make run and the tests make a local CA)"
            )
        cert, key, ca = (Path(f) for f in files if f is not None)
        return cls(cert, key, ca)

    def stamp(self) -> tuple[float, ...]:
        return tuple(p.stat().st_mtime for p in (self.cert, self.key, self.ca))

    def read(self) -> tuple[bytes, bytes, bytes]:
        return self.key.read_bytes(), self.cert.read_bytes(), self.ca.read_bytes()


def server_credentials(material: TlsMaterial) -> grpc.ServerCredentials:
    """Mutual TLS; the files are checked before each handshake and reread
    when they changed (a bad new pair is logged and the old one kept)."""

    def configuration() -> grpc.ServerCertificateConfiguration:
        key, cert, ca = material.read()
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    state = {"stamp": material.stamp()}

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        try:
            stamp = material.stamp()
            if stamp == state["stamp"]:
                return None
            fresh = configuration()
        except OSError as exc:
            log.warning("tls_reload_failed", extra=fields(error=str(exc)))
            return None
        state["stamp"] = stamp
        log.info("tls_reloaded", extra=fields(cert=str(material.cert)))
        return fresh

    # grpc's own stub types the fetcher as never returning None; it may.
    fetcher = cast(Callable[[], grpc.ServerCertificateConfiguration], fetch)
    return grpc.dynamic_ssl_server_credentials(
        configuration(), fetcher, require_client_authentication=True
    )


def secure_channel(address: str, settings: TlsFiles, who: str) -> grpc.aio.Channel:
    """A channel to another service, presenting this process's certificate
    and trusting only the CA's."""
    key, cert, ca = TlsMaterial.of(settings, who).read()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    return grpc.aio.secure_channel(
        address,
        credentials,
        # The stubs type interceptors by the (untyped) grpc-stubs generics.
        interceptors=[correlation.ClientInterceptor()],  # type: ignore[list-item]
    )


def peer_identity(context: Context) -> str:
    """The caller's identity (its certificate's CN), '' if it has none."""
    names = list(context.auth_context().get("x509_common_name") or [])
    return names[0].decode() if names else ""


def has_role(identity: str, role: str) -> bool:
    """``role`` is an identity, or ``operator`` for any operator."""
    if role == OPERATOR:
        return identity.startswith(f"{OPERATOR}:") and len(identity) > len(OPERATOR) + 1
    return identity == role


_CHANNEL = re.compile(r"^(user:)?[a-z][a-z0-9-]{0,31}$")


def actor(identity: str, on_behalf: str) -> str:
    """Who an audit trail records: the authenticated identity; a service
    acting for a user through one of its channels adds it
    (``service:auth/user:voice-menu``). What a caller writes is never taken
    as who acted: anything but a channel name is dropped."""
    if identity.startswith("service:") and _CHANNEL.match(on_behalf):
        return f"{identity}/{on_behalf}"
    return identity
