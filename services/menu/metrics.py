"""Prometheus metrics of the voice menu."""

from prometheus_client import Counter, Gauge, Histogram

MENU_CALLS = Counter("hotdesk_menu_calls_total", "Calls the voice menu answered")
MENU_ACTIVE = Gauge("hotdesk_menu_active_calls", "Voice-menu calls in progress")
MENU_OUTCOMES = Counter(
    "hotdesk_menu_outcomes_total",
    "How menu calls ended: logged_in, logged_out, wrong_pin, ambiguous (a number of more "
    "than one user, every round), locked, refused, abandoned, "
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
