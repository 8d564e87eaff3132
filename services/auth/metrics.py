"""Prometheus metrics of the auth service."""

from prometheus_client import Counter, Gauge, Histogram

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


# The voice menu.
MENU_CALLS = Counter("hotdesk_menu_calls_total", "Calls the voice menu answered")
MENU_ACTIVE = Gauge("hotdesk_menu_active_calls", "Voice-menu calls in progress")
MENU_OUTCOMES = Counter(
    "hotdesk_menu_outcomes_total",
    "How menu calls ended: logged_in, logged_out, wrong_pin, locked, refused, abandoned, "
    "timeout, unavailable; or why they were refused: untrusted (not from the edge), "
    "unsigned, malformed, bad_signature, stale_signature (X-Hotdesk-Device), busy (the "
    "device's calls), overloaded (all calls), bad_sdp, not_an_address, rejected (no common "
    "codec, unknown device)",
    ["outcome"],
)
MENU_DTMF = Counter("hotdesk_menu_dtmf_total", "Digits read, by method (rfc4733, info)", ["method"])
MENU_RTP_PACKETS = Counter("hotdesk_menu_rtp_packets_sent_total", "Prompt RTP packets sent")
MENU_RTP_LATENESS = Histogram(
    "hotdesk_menu_rtp_lateness_seconds",
    "How late each prompt RTP packet left against its 20 ms schedule",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05),
)


def channel_label(channel: str) -> str:
    return channel if channel in CHANNELS else "other"
