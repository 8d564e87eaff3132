"""Prometheus metrics of the admin service."""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "hotdesk_admin_requests_total",
    "API requests by operation (the OpenAPI operationId) and HTTP status",
    ["operation", "status"],
)
REQUEST_SECONDS = Histogram(
    "hotdesk_admin_request_seconds",
    "Time to answer an API request (the event stream not counted), by operation",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
EVENT_VIEWERS = Gauge(
    "hotdesk_admin_event_viewers",
    "Open server-sent event streams of logins and logouts",
)
WEBHOOK_ATTEMPTS = Counter(
    "hotdesk_admin_webhook_attempts_total",
    "Webhook POSTs by outcome: delivered (2xx), refused (another status), unreachable",
    ["outcome"],
)
WEBHOOK_FAILURES = Counter(
    "hotdesk_admin_webhook_failures_total",
    "Events a webhook never took: every attempt failed",
)
WEBHOOK_FED = Counter(
    "hotdesk_admin_webhook_deliveries_fed_total",
    "Deliveries the feed wrote: one per event and webhook that takes it",
)
WEBHOOK_BACKLOG = Gauge(
    "hotdesk_admin_webhook_backlog",
    "Deliveries waiting or under way (all instances), as this instance last looked",
)
WEBHOOK_TAKEN_OVER = Counter(
    "hotdesk_admin_webhook_taken_over_total",
    "Deliveries taken over from a holder that went silent (died, lost Redis)",
)
WEBHOOK_MISSED = Counter(
    "hotdesk_admin_webhook_missed_total",
    "Event streams whose kept feed position had been trimmed away (events lost)",
)
