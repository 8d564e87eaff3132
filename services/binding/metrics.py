"""Prometheus metrics of the binding service.

Route lookups are labelled with the enum names Kamailio sees in the JSON
(``caller_kind="CALLER_KIND_DEVICE_BOUND"``); results and reasons with the
lowercase names of ``names.py`` (``result="logged_in"``, ``reason="takeover"``).
"""

from hotdesk.v1 import binding_pb2 as pb
from prometheus_client import Counter, Gauge, Histogram

_FAST_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1)

ROUTE_LOOKUPS = Counter(
    "hotdesk_binding_route_lookups_total",
    "Kamailio route lookups by what they found",
    ["caller_kind", "callee_kind"],
)
# Every labelled child made once: the lookup path does a dict lookup, not a
# labels() call (which takes a lock and builds the label tuple).
ROUTE_LOOKUPS_BY_KIND = {
    (caller, callee): ROUTE_LOOKUPS.labels(caller_name, callee_name)
    for caller_name, caller in pb.CallerKind.items()
    for callee_name, callee in pb.CalleeKind.items()
}
ROUTE_LOOKUP_SECONDS = Histogram(
    "hotdesk_binding_route_lookup_seconds",
    "Time to answer one route lookup, Redis round trip included",
    buckets=_FAST_BUCKETS,
)
LOGINS = Counter("hotdesk_binding_logins_total", "Login attempts by result", ["result"])
UNREPLICATED_CHANGES = Counter(
    "hotdesk_binding_unreplicated_changes_total",
    "Logins and logouts answered before the wanted number of Redis replicas had them "
    "(a replica down or slow: the change is on the master only)",
)
SESSIONS_ENDED = Counter(
    "hotdesk_binding_sessions_ended_total",
    "Sessions ended, by reason (logout, takeover, moved, expired, operator, directory)",
    ["reason"],
)
SESSION_LOCATIONS = Counter(
    "hotdesk_binding_session_locations_total",
    "Session locations set or cleared (emergency calls send them until the session ends)",
    ["action"],
)
ACTIVE_SESSIONS = Gauge(
    "hotdesk_binding_active_sessions", "Devices with a user logged in (refreshed by the sweeper)"
)
