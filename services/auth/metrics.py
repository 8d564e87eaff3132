"""Prometheus metrics of the auth service."""

from prometheus_client import Counter, Histogram

# The channel label takes only these values ("other" otherwise): the channel
# comes from the client, and a free-form label would grow without bound.
CHANNELS = frozenset({"voice-menu", "phone-screen", "api", "cli"})

PIN_ATTEMPTS = Counter(
    "hotdesk_auth_pin_attempts_total", "PIN attempts by result and channel", ["result", "channel"]
)
LOCKOUTS = Counter(
    "hotdesk_auth_lockouts_total",
    "Lockouts started, by scope (user_device, device, user: a user locked on every device)",
    ["scope"],
)
USER_PIN_FAILURES = Counter(
    "hotdesk_auth_user_pin_failures_total",
    "Wrong PINs for existing users with a PIN, on any device (the per-user counter's input)",
)
UNLOCKS = Counter("hotdesk_auth_unlocks_total", "Operator unlocks")
PIN_VERIFY_SECONDS = Histogram(
    "hotdesk_auth_pin_verify_seconds",
    "argon2id verification time (waiting for a free slot included)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5),
)


def channel_label(channel: str) -> str:
    return channel if channel in CHANNELS else "other"
