"""Settings of the binding service (environment prefix ``HOTDESK_BINDING_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class BindingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_BINDING_", extra="ignore")

    ops_port: int = 7190
    grpc_port: int = 7100
    # The Kamailio-facing lookup endpoint.
    http_host: str = "127.0.0.1"
    http_port: int = 7180
    # Several binding processes on one machine share the lookup port (and
    # the gRPC port, which gRPC always opens shareable): Kamailio keeps
    # its lookups when one of them dies. Off: a second process fails to
    # start instead.
    shared_ports: bool = False
    # A login or logout is answered only once this many replicas of the
    # Redis holding it have it (WAIT, up to the timeout): a session a user
    # was told about survives the loss of that Redis. 0: answer at once.
    # Fewer replicas in time (one is down) is logged and counted, and the
    # answer still goes out: the write is on the master.
    redis_replica_acks: int = Field(default=0, ge=0)
    redis_replica_ack_timeout_ms: int = Field(default=500, gt=0)
    # How often expired sessions are ended (reads ignore them at once anyway).
    expiry_interval_seconds: float = 1.0
    # Approximate cap (XADD MAXLEN ~) on each group's event stream.
    stream_maxlen: int = 1_000_000
    # Approximate cap on each group's audit stream (session locations here).
    audit_maxlen: int = 100_000
    # Event and audit entries older than this go (checked every
    # stream_trim_interval_seconds), whatever their number.
    stream_max_age_seconds: float = Field(default=30 * 86400, gt=0)
    stream_trim_interval_seconds: float = Field(default=60, gt=0)
