"""Settings of the auth service (environment prefix ``HOTDESK_AUTH_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_AUTH_", extra="ignore")

    ops_port: int = 7290
    grpc_port: int = 7200
    binding_address: str = "127.0.0.1:7100"
    # Deadline of a Login call to the binding service (LoginWithPin).
    binding_timeout_seconds: float = Field(default=3.0, gt=0)
    # argon2id cost (argon2-cffi's RFC 9106 low-memory profile by default).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    # Hashes computed at once; each holds argon2_memory_cost_kib, so this
    # bounds the service's memory under a burst of attempts.
    argon2_max_concurrency: int = Field(default=4, ge=1)
    # Lockout, per user+device: this many failures are free, then each
    # failure costs a wait of backoff_base_seconds doubling per failure
    # (capped), and lock_after failures lock (lock_seconds; 0 = until an
    # operator unlocks). Counters forget after failure_window_seconds
    # without a failure.
    free_attempts: int = Field(default=3, ge=1)
    backoff_base_seconds: int = Field(default=30, ge=1)
    backoff_max_seconds: int = Field(default=900, ge=1)
    lock_after: int = Field(default=6, ge=1)
    lock_seconds: int = Field(default=3600, ge=0)
    failure_window_seconds: int = Field(default=3600, ge=1)
    # Per device, across all users: one phone guessing many users' PINs.
    # This many failures within the window lock the device.
    device_max_failures: int = Field(default=20, ge=1)
    device_window_seconds: int = Field(default=900, ge=1)
    device_lock_seconds: int = Field(default=900, ge=1)
    # Per user, across all devices: the user guessed at from many desks
    # (each staying under lock_after). This many failures within
    # user_window_seconds lock the user everywhere for user_lock_seconds
    # (hotdesk_auth_lockouts_total{scope="user"}). Higher than lock_after,
    # so that one desk meets its own lock first; a right PIN gives back
    # only its own attempt.
    user_max_failures: int = Field(default=10, ge=1)
    user_window_seconds: int = Field(default=900, ge=1)
    user_lock_seconds: int = Field(default=900, ge=1)
    # Approximate cap (XADD MAXLEN ~) on each group's audit stream.
    audit_maxlen: int = Field(default=100_000, ge=1)
