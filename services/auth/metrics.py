"""Prometheus metrics of the auth service."""

from prometheus_client import Counter, Histogram

PIN_ATTEMPTS = Counter(
    "hotdesk_auth_pin_attempts_total", "PIN attempts by result and channel", ["result", "channel"]
)
LOCKOUTS = Counter("hotdesk_auth_lockouts_total", "Lockouts started, by scope", ["scope"])
UNLOCKS = Counter("hotdesk_auth_unlocks_total", "Operator unlocks")
PIN_VERIFY_SECONDS = Histogram(
    "hotdesk_auth_pin_verify_seconds",
    "argon2id verification time",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0),
)
