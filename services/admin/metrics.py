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
WEBHOOK_DROPPED = Counter(
    "hotdesk_admin_webhook_dropped_total",
    "Events not offered to webhooks: the delivery queue was full",
)
