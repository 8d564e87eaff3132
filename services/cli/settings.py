"""Settings of the ``hotdesk`` command (environment prefix ``HOTDESK_CLI_``)."""

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _login_name() -> str:
    return os.environ.get("USER") or "operator"


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_CLI_", extra="ignore")

    # Directory imports talk to Redis directly (one transaction), as the
    # ACL user in the URL with the password in redis_password_file.
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_password_file: Path | None = None
    redis_ca_file: Path | None = None
    # The key of the SIP secrets' encrypted copies an import writes.
    secrets_key_file: Path | None = None
    # The operator's certificate, key and the CA (mutual TLS to every
    # service; the certificate's CN "operator:<name>" is who acts).
    grpc_tls_cert_file: Path | None = None
    grpc_tls_key_file: Path | None = None
    grpc_tls_ca_file: Path | None = None
    # Defaults: the services' own default gRPC ports.
    binding_address: str = "127.0.0.1:7100"
    auth_address: str = "127.0.0.1:7200"
    provision_address: str = "127.0.0.1:7300"
    # Recorded as "operator:<name>" with every change the CLI makes.
    operator: str = Field(default_factory=_login_name, min_length=1)
    # Deadline of each gRPC call.
    timeout_seconds: float = Field(default=10.0, gt=0)
    # argon2id cost of the PIN hashes an import writes (keep it the auth
    # service's: the auth service rehashes a PIN of another cost on its next
    # successful use).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
