"""Prometheus metrics of the binding service."""

from functools import cache

from hotdesk.v1 import binding_pb2 as pb
from prometheus_client import Counter, Gauge, Histogram

_FAST_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1)

ROUTE_LOOKUPS = Counter(
    "hotdesk_binding_route_lookups_total",
    "Kamailio route lookups by what they found",
    ["caller_kind", "callee_kind"],
)
ROUTE_LOOKUP_SECONDS = Histogram(
    "hotdesk_binding_route_lookup_seconds",
    "Time to answer one route lookup, Redis round trip included",
    buckets=_FAST_BUCKETS,
)
LOGINS = Counter("hotdesk_binding_logins_total", "Login attempts by result", ["result"])
SESSIONS_ENDED = Counter(
    "hotdesk_binding_sessions_ended_total", "Sessions ended, by reason", ["reason"]
)
ACTIVE_SESSIONS = Gauge("hotdesk_binding_active_sessions", "Devices with a user logged in")
RPC_SECONDS = Histogram(
    "hotdesk_binding_rpc_seconds", "gRPC handling time by method", ["method"], buckets=_FAST_BUCKETS
)


@cache
def route_lookups(caller_kind: int, callee_kind: int) -> Counter:
    """The labelled counter for one outcome, looked up once (hot path)."""
    return ROUTE_LOOKUPS.labels(
        pb.CallerKind.Name(caller_kind),  # type: ignore[arg-type]
        pb.CalleeKind.Name(callee_kind),  # type: ignore[arg-type]
    )
