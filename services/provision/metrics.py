"""Prometheus metrics of the provision service."""

from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram

_RENDER_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

FETCHES = Counter(
    "hotdesk_provision_fetches_total",
    "Phone file requests by vendor, file kind and outcome (served; 401: unauthorized, denied, "
    "no_secret, stale_nonce; 429: rate_limited_mac, rate_limited_address; 404: unknown_file, "
    "foreign_agent, other_mac, vendor_mismatch, model_mismatch, mac_mismatch; upload_refused)",
    ["vendor", "kind", "outcome"],
)


@lru_cache(maxsize=512)
def fetched(vendor: str, kind: str, outcome: str) -> Counter:
    """``FETCHES``' child for these labels, looked up once (every request
    counts; the labels are vendor, file kind and outcome names: few)."""
    return FETCHES.labels(vendor, kind, outcome)


RENDER_SECONDS = Histogram(
    "hotdesk_provision_render_seconds",
    "Time to build and render one device file (on a render-cache miss)",
    ["vendor"],
    buckets=_RENDER_BUCKETS,
)
RENDER_CACHE = Counter(
    "hotdesk_provision_render_cache_total",
    "Device files looked up in the render cache, by result (hit, miss)",
    ["result"],
)
RENDER_CACHE_HIT = RENDER_CACHE.labels("hit")
RENDER_CACHE_MISS = RENDER_CACHE.labels("miss")
PUSHES = Counter(
    "hotdesk_provision_pushes_total",
    "check-sync NOTIFYs by outcome (delivered, not_registered, rejected, timeout), and changes "
    "that needed none (skipped: already pushed or fetched; gone: device left the directory)",
    ["result"],
)
PUSH_DELAY_SECONDS = Histogram(
    "hotdesk_provision_push_delay_seconds",
    "From a binding change to its check-sync NOTIFY leaving (pacing included)",
    buckets=_LAG_BUCKETS,
)
PUSHES_WAITING = Gauge(
    "hotdesk_provision_pushes_waiting", "Pushes read from the event streams, not yet sent"
)
LAG_SECONDS = Histogram(
    "hotdesk_provision_lag_seconds",
    "From a binding change to the device fetching the file that matches it",
    buckets=_LAG_BUCKETS,
)
SCREEN_ACTIONS = Counter(
    "hotdesk_provision_screen_actions_total",
    "Phone-screen logins and logouts by outcome (logged_in, logged_out, wrong_pin, backoff, "
    "locked, refused, unavailable, the binding service's refusals; expired_token, stale_token, "
    "pin_in_query, no_forms)",
    ["action", "outcome"],
)
DEVICE_CACHE = Counter(
    "hotdesk_provision_device_cache_total",
    "Device file reads by where they came from: hit (kept, still holding), miss (read from "
    "Redis), off (Redis tracking down or starting: read from Redis, nothing kept)",
    ["result"],
)
DEVICE_CACHE_HIT = DEVICE_CACHE.labels("hit")
DEVICE_CACHE_MISS = DEVICE_CACHE.labels("miss")
DEVICE_CACHE_OFF = DEVICE_CACHE.labels("off")
