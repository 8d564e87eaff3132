"""Settings of the ``hotdesk`` command (environment prefix ``HOTDESK_CLI_``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where `make run` keeps the files of a local run: the CLI finds the
# operator's certificate and the directory's Redis password there by itself.
LOCAL_RUN = Path(__file__).resolve().parents[2] / ".run"


def _local(path: str) -> Path | None:
    found = LOCAL_RUN / path
    return found if found.exists() else None


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_CLI_", extra="ignore")

    # Directory imports talk to Redis directly (one transaction), as the
    # ACL user in the URL with the password in redis_password_file.
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_password_file: Path | None = Field(
        default_factory=lambda: _local("secrets/redis-directory")
    )
    redis_ca_file: Path | None = None
    # A Redis Cluster: redis_url names any of its nodes, and the import
    # writes one transaction per slot (see services.directory.importer).
    redis_cluster: bool = False
    # The key of the SIP secrets' encrypted copies an import writes.
    secrets_key_file: Path | None = Field(default_factory=lambda: _local("secrets/sip-secrets.key"))
    # The key of the PIN digests an import stores beside the PIN hashes (64
    # hex characters): with it, a re-import skips the argon2 check of every
    # PIN whose digest matches; without it, it verifies every PIN. A new key
    # costs the next import those checks once (services.directory.digest).
    pin_digest_key_file: Path | None = Field(
        default_factory=lambda: _local("secrets/pin-digest.key")
    )
    # How long a device's replaced SIP secret stays valid after an import
    # changes it (its phone is pushed to fetch the new one at once; this
    # covers phones that are off or unreachable).
    sip_secret_grace_seconds: int = Field(default=86_400, ge=0)
    # The operator's certificate, key and the CA (mutual TLS to every
    # service; the certificate's CN "operator:<name>" is who acts, and what
    # the audit trail records). Default: those `make run` made.
    grpc_tls_cert_file: Path | None = Field(default_factory=lambda: _local("pki/operator.crt"))
    grpc_tls_key_file: Path | None = Field(default_factory=lambda: _local("pki/operator.key"))
    grpc_tls_ca_file: Path | None = Field(default_factory=lambda: _local("pki/ca.crt"))
    # The admin API, through which logout, unlock, set-pin and status act
    # (as the operator of the API token in admin_token_file; its role and
    # tenants are what the commands may see and do). Default: `make run`'s
    # API and the token it made for the CLI (mode 600). admin_ca_file: the
    # CA of an https admin_url signed by a private CA.
    admin_url: str = Field(default="http://127.0.0.1:7480", pattern=r"^https?://")
    admin_token_file: Path | None = Field(default_factory=lambda: _local("secrets/admin-token"))
    admin_ca_file: Path | None = None
    # Defaults: the services' own default gRPC ports.
    binding_address: str = "127.0.0.1:7100"
    auth_address: str = "127.0.0.1:7200"
    provision_address: str = "127.0.0.1:7300"
    # Deadline of each gRPC call.
    timeout_seconds: float = Field(default=10.0, gt=0)
    # argon2id cost of the PIN hashes an import writes (keep it the auth
    # service's: the auth service rehashes a PIN of another cost on its next
    # successful use).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
