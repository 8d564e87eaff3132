"""Settings shared by every service; each service subclasses with its own
environment prefix (HOTDESK_BINDING_, HOTDESK_AUTH_, ...)."""

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    log_format: Literal["json", "text"] = "text"
    log_level: str = "INFO"
    # Default ports stay below 32768, out of Linux's ephemeral range, so an
    # outgoing connection can never hold a service's port on a shared host.
    # Address of the ops HTTP server (/metrics, /healthz, /readyz).
    ops_host: str = "127.0.0.1"
    ops_port: int = 7090
    # gRPC listen address.
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 7000
    # Seconds to let in-flight RPCs finish after SIGTERM.
    shutdown_grace_seconds: float = 5.0
    # Service identity: this service's certificate and key (PEM) and the CA
    # that signs every service's and operator's certificate. gRPC is mutual
    # TLS only, served and called with these; the identity is the subject CN
    # ("service:<name>", "operator:<name>").
    grpc_tls_cert_file: Path | None = None
    grpc_tls_key_file: Path | None = None
    grpc_tls_ca_file: Path | None = None
    # gRPC server reflection (a debugging aid; off in production).
    grpc_reflection: bool = False
    # Redis: the ACL user is in redis_url (redis://<user>@host:port/db), its
    # password in this file; rediss:// with redis_ca_file for TLS.
    redis_password_file: Path | None = None
    redis_ca_file: Path | None = None
    # A Redis Cluster: redis_url then names any of its nodes.
    redis_cluster: bool = False
