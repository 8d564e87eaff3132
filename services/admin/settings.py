"""Settings of the admin service (environment prefix ``HOTDESK_ADMIN_``)."""

from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class AdminSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_ADMIN_", extra="ignore")

    ops_port: int = 7490
    grpc_port: int = 7400  # health only
    # The operators' HTTP API (and console).
    http_host: str = "127.0.0.1"
    http_port: int = 7480
    # HTTPS when both are set (PEM files); plain HTTP otherwise. Session
    # cookies are marked Secure under HTTPS, or always with cookie_secure
    # (TLS ended by a proxy in front).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    cookie_secure: bool = False
    binding_address: str = "127.0.0.1:7100"
    auth_address: str = "127.0.0.1:7200"
    provision_address: str = "127.0.0.1:7300"
    rpc_timeout_seconds: float = Field(default=3.0, gt=0)
    # API requests served at once; more wait their turn. Each holds a
    # Redis connection while it runs, and the pool has 100 (the event
    # stream's reader holds one more).
    max_requests_in_flight: int = Field(default=64, ge=1, le=96)
    # A web session ends this long after sign-in.
    session_seconds: int = Field(default=8 * 3600, ge=60)
    # Failed sign-ins per operator name within the window; at the limit
    # every sign-in of that name is refused (429) until the window ends.
    sign_in_failures: int = Field(default=10, ge=1)
    sign_in_window_seconds: int = Field(default=900, ge=1)
    # argon2id cost of operator passwords (argon2-cffi's RFC 9106
    # low-memory profile by default).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    # Approximate cap (XADD MAXLEN ~) on the admin's own audit stream; the
    # tenants' audit streams are capped by the services that own them.
    audit_maxlen: int = Field(default=100_000, ge=1)
    # Server-sent events: a viewer that falls this many events behind is
    # disconnected (it reconnects with Last-Event-ID); a comment line keeps
    # idle connections open every keepalive_seconds.
    events_queue: int = Field(default=1000, ge=1)
    events_keepalive_seconds: float = Field(default=15.0, gt=0)
    # Webhooks: their secrets are kept sealed under this key (64 hex
    # characters; without it webhooks cannot be registered: 503). Each event
    # is POSTed up to webhook_attempts times, waiting backoff, 2 x backoff,
    # ... (at most webhook_backoff_max_seconds) between; each POST ends after
    # webhook_timeout_seconds; webhook_in_flight POSTs at once per instance.
    # The events are fed to the deliveries every webhook_poll_seconds when
    # idle (services/admin/webhook_feed.py).
    webhook_key_file: Path | None = None
    webhook_attempts: int = Field(default=5, ge=1, le=20)
    webhook_backoff_seconds: float = Field(default=1.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=60.0, gt=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_in_flight: int = Field(default=32, ge=1)
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    # The occupancy report keeps closed intervals this many days (by their
    # start); the binding's event streams are read every poll_seconds when
    # idle.
    occupancy_retention_days: int = Field(default=90, ge=1)
    occupancy_poll_seconds: float = Field(default=0.5, gt=0)
    # A tenant admin's import of its tenant's part of the directory writes
    # as the directory import does (services.directory.importer): as the
    # Redis ACL user of directory_redis_url (password in its file), sealing
    # SIP secrets with secrets_key_file and keeping PIN digests with
    # pin_digest_key_file (the CLI's import settings); PINs are hashed
    # with the argon2 cost above. Without directory_redis_url the import
    # route answers 503.
    directory_redis_url: str = ""
    directory_redis_password_file: Path | None = None
    secrets_key_file: Path | None = None
    pin_digest_key_file: Path | None = None
    sip_secret_grace_seconds: int = Field(default=86_400, ge=0)
    # Operators signed in by an OpenID Connect provider (services/admin/oidc.py):
    # off while oidc_issuer is empty. The token's ``iss`` must equal the
    # issuer and its ``aud`` hold the audience; its ``oidc_operator_claim``
    # names the operator account here (choose a claim the provider does not
    # let users change). Keys from a JWKS file or an https URL (plain http
    # only to a loopback address).
    oidc_issuer: str = ""
    oidc_audience: str = "hotdesk-admin"
    oidc_operator_claim: str = "preferred_username"
    oidc_jwks_file: str = ""
    oidc_jwks_url: str = ""
    oidc_jwks_refresh_seconds: float = Field(default=3600.0, gt=0)
    oidc_jwks_min_refetch_seconds: float = Field(default=60.0, ge=0)
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)

    @model_validator(mode="after")
    def _oidc_keys(self) -> "AdminSettings":
        if not self.oidc_issuer:
            return self
        if bool(self.oidc_jwks_file) == bool(self.oidc_jwks_url):
            raise ValueError(
                "with oidc_issuer set, give exactly one of oidc_jwks_file, oidc_jwks_url"
            )
        if self.oidc_jwks_url:
            url = urlsplit(self.oidc_jwks_url)
            if url.scheme != "https" and not (url.scheme == "http" and _loopback(url.hostname)):
                raise ValueError("oidc_jwks_url must be https (http only to a loopback address)")
        return self


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return False
