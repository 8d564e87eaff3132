"""Grafana dashboards of the edge, generated with grafana-foundation-sdk.

``python -m services.monitoring.dashboards DIR`` writes one JSON file per
dashboard (``overview.json``, ``binding.json``, ...) into DIR; the files in
deploy/monitoring/dashboards are its output, and a test keeps them equal.
Every query selects ``instance=~"$instance"`` on the ``$datasource`` chosen;
no metric of the edge carries a tenant label, so there is no ``$tenant``.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    VariableOption,
    VariableRefresh,
)
from grafana_foundation_sdk.models.dashboard import (
    Panel as DashboardPanel,
)

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = 'instance=~"$instance"'
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"  # or "stat"


def rate(metric: str, by: str = "") -> str:
    """Per-second rate of ``metric`` on the chosen instances, summed by ``by``."""
    return (
        f"sum by ({by}) (rate({metric}{{{SEL}}}[{RATE}]))"
        if by
        else (f"sum(rate({metric}{{{SEL}}}[{RATE}]))")
    )


def increase(metric: str, by: str = "") -> str:
    inner = f"increase({metric}{{{SEL}}}[{RATE}])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def quantile(q: float, histogram: str) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket{{{SEL}}}[{RATE}])))"


def latency(title: str, description: str, histogram: str) -> Panel:
    return Panel(
        title,
        description,
        "s",
        tuple(Query(quantile(q, histogram), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)),
    )


def single(expr: str, legend: str) -> tuple[Query, ...]:
    return (Query(expr, legend),)


def kam(stat_name: str) -> str:
    """A Kamailio statistic as xhttp_prom names it (no ``_total`` added)."""
    return f"kamailio_{stat_name}"


# -- panels, each defined once and shared by the overview and its service --

EDGE_CALLS = Panel(
    "Calls through the edge by outcome",
    "INVITE transactions Kamailio finished, by final reply class (tmx), per second",
    "reqps",
    tuple(Query(rate(kam(f"tmx_{c}xx_transactions")), f"{c}xx") for c in (2, 3, 4, 5, 6)),
)
EDGE_ERRORS = Panel(
    "Lookup failures, 503s and timeouts at the edge",
    "Failed hot-desk lookups (Kamailio answers 503), 5xx replies Kamailio sent statelessly, "
    "and lookup requests to the binding service that timed out, per second",
    "reqps",
    (
        Query(rate(kam("script_hotdesk_lookup_errors_total")), "lookup errors (503)"),
        Query(rate(kam("sl_5xx_replies")), "5xx sent"),
        Query(rate(kam("http_async_client_timeouts")), "lookup timeouts"),
        Query(rate(kam("http_async_client_errors")), "lookup HTTP errors"),
    ),
)
LOOKUPS_BY_KIND = Panel(
    "Hot-desk lookups by kind",
    "Route lookups the binding service answered, by what the caller and callee turned out to be",
    "reqps",
    single(
        rate("hotdesk_binding_route_lookups_total", "caller_kind, callee_kind"),
        "{{caller_kind}} → {{callee_kind}}",
    ),
)
LOOKUP_LATENCY = latency(
    "Hot-desk lookup latency",
    "Time the binding service took to answer one route lookup, Redis round trip included",
    "hotdesk_binding_route_lookup_seconds",
)
LOOKUP_AT_KAMAILIO = latency(
    "Lookup time at Kamailio (added call set-up)",
    "A lookup's time as Kamailio sees it, query sent to reply resumed (binding service, "
    "network and both sides' queues): what the hot-desk lookup adds to call set-up",
    "kamailio_hotdesk_lookup_seconds",
)
LOGINS = Panel(
    "Logins by result",
    "Login attempts the binding service answered, by result",
    "reqps",
    single(rate("hotdesk_binding_logins_total", "result"), "{{result}}"),
)
SESSIONS_ENDED = Panel(
    "Sessions ended (logouts, takeovers, ...)",
    "Sessions ended, by reason: logout, takeover, moved, expired, operator, directory",
    "short",
    single(increase("hotdesk_binding_sessions_ended_total", "reason"), "{{reason}}"),
)
ACTIVE_SESSIONS = Panel(
    "Active sessions",
    "Devices with a user logged in (the binding service's sweeper refreshes it)",
    "short",
    single(f"max(hotdesk_binding_active_sessions{{{SEL}}})", "sessions"),
    "stat",
)
PROVISION_LAG = latency(
    "Provisioning lag",
    "From a binding change to the device fetching the file that matches it",
    "hotdesk_provision_lag_seconds",
)
PUSHES_WAITING = Panel(
    "Pending devices (pushes waiting)",
    "check-sync pushes read from the event streams and not yet sent",
    "short",
    single(f"sum(hotdesk_provision_pushes_waiting{{{SEL}}})", "waiting"),
)
PUSH_OUTCOMES = Panel(
    "Push outcomes",
    "check-sync NOTIFYs by outcome (delivered, not_registered, rejected, timeout, skipped, gone)",
    "short",
    single(increase("hotdesk_provision_pushes_total", "result"), "{{result}}"),
)
MENU_CALLS = Panel(
    "Voice-menu calls",
    "Calls the voice menu answered per second, and calls in progress",
    "short",
    (
        Query(rate("hotdesk_menu_calls_total"), "answered/s"),
        Query(f"sum(hotdesk_menu_active_calls{{{SEL}}})", "in progress"),
    ),
)
MENU_RTP_LATENESS = latency(
    "Voice-menu RTP lateness",
    "How late each prompt RTP packet left against its 20 ms schedule",
    "hotdesk_menu_rtp_lateness_seconds",
)
PIN_FAILURES = Panel(
    "PIN attempts by result",
    "PIN attempts the auth service checked, by result and channel",
    "short",
    single(
        increase("hotdesk_auth_pin_attempts_total", "result, channel"), "{{result}} ({{channel}})"
    ),
)
LOCKOUTS = Panel(
    "Lockouts and wrong PINs",
    "Lockouts started (all scopes) and wrong PINs for existing users: a spike is a guessing attack",
    "short",
    (
        Query(increase("hotdesk_auth_lockouts_total"), "lockouts"),
        Query(increase("hotdesk_auth_user_pin_failures_total"), "wrong PINs"),
    ),
)
REDIS_HEALTH = Panel(
    "Redis health",
    "Redis errors Kamailio met, and logins/logouts answered before the wanted replicas had them",
    "short",
    (
        Query(increase(kam("script_hotdesk_redis_failures_total")), "Kamailio Redis failures"),
        Query(increase("hotdesk_binding_unreplicated_changes_total"), "unreplicated changes"),
    ),
)
TARGETS_UP = Panel(
    "Targets up",
    "Scrape targets answering /metrics, by job (0: the process is down or unreachable)",
    "short",
    single(f"sum by (job) (up{{{SEL}}})", "{{job}}"),
)
KAMAILIO_HEALTH = Panel(
    "Kamailio shared memory",
    "Share of Kamailio's shared memory in use (near 1: it will refuse requests)",
    "percentunit",
    (
        Query(
            f"sum(kamailio_shmem_used_size{{{SEL}}}) / sum(kamailio_shmem_total_size{{{SEL}}})",
            "shared memory used",
        ),
    ),
)
KAMAILIO_REQUESTS = Panel(
    "SIP requests received",
    "Requests Kamailio received per second (each Prometheus scrape counts as one)",
    "reqps",
    (
        Query(rate(kam("core_rcv_requests_invite")), "INVITE"),
        Query(rate(kam("core_rcv_requests_register")), "REGISTER"),
        Query(rate(kam("core_rcv_requests")), "all"),
    ),
)
REGISTRATIONS = Panel(
    "Registrations",
    "Registered contacts in Kamailio's location table, and registrations refused per second",
    "short",
    (
        Query(f"sum(kamailio_usrloc_location_contacts{{{SEL}}})", "contacts"),
        Query(rate(kam("registrar_rejected_regs")), "rejected/s"),
    ),
)
DIALOGS = Panel(
    "Dialogs",
    "Calls in progress (active and early dialogs) Kamailio tracks",
    "short",
    (
        Query(f"sum(kamailio_dialog_active_dialogs{{{SEL}}})", "active"),
        Query(f"sum(kamailio_dialog_early_dialogs{{{SEL}}})", "early"),
    ),
)
EDGE_AUTH = Panel(
    "Edge authentication",
    "Digest challenges sent, failures and banned sources at the edge, per second",
    "reqps",
    (
        Query(rate(kam("script_hotdesk_challenges_total")), "challenges"),
        Query(rate(kam("script_hotdesk_auth_failures_total")), "failures"),
        Query(rate(kam("script_hotdesk_auth_banned_total")), "banned"),
    ),
)
HOTDESK_ROUTING = Panel(
    "Hot-desk routing at the edge",
    "Calls Kamailio rewrote to the user's device, refused from idle devices, "
    "answered 480 (user logged out) and emergency calls, per second",
    "reqps",
    (
        Query(rate(kam("script_hotdesk_rewritten_total")), "rewritten"),
        Query(rate(kam("script_hotdesk_idle_refused_total")), "idle refused"),
        Query(rate(kam("script_hotdesk_logged_out_480_total")), "logged out (480)"),
        Query(rate(kam("script_hotdesk_emergency_total")), "emergency"),
    ),
)


def grpc_panels(service: str) -> list[Panel]:
    """gRPC traffic of one service (``hotdesk.v1.<service>``)."""
    svc = f'{SEL},grpc_service="hotdesk.v1.{service}"'
    return [
        Panel(
            "gRPC calls by method and code",
            f"Calls {service} answered per second, by method and status code",
            "reqps",
            single(
                f"sum by (grpc_method, grpc_code) "
                f"(rate(hotdesk_grpc_server_handled_total{{{svc}}}[{RATE}]))",
                "{{grpc_method}} {{grpc_code}}",
            ),
        ),
        Panel(
            "gRPC latency (p95)",
            f"95th percentile of the time {service} took to answer, by method",
            "s",
            single(
                f"histogram_quantile(0.95, sum by (le, grpc_method) "
                f"(rate(hotdesk_grpc_server_handling_seconds_bucket{{{svc}}}[{RATE}])))",
                "{{grpc_method}}",
            ),
        ),
    ]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    instance_metric: str  # what $instance lists the instances of
    panels: tuple[Panel, ...]


DASHBOARDS = (
    Dashboard(
        "hotdesk-overview",
        "Hot desk: overview",
        "Calls, lookups, logins, provisioning, voice menu, PINs and health of the whole edge",
        "up",
        (
            EDGE_CALLS,
            EDGE_ERRORS,
            LOOKUPS_BY_KIND,
            LOOKUP_LATENCY,
            LOGINS,
            SESSIONS_ENDED,
            ACTIVE_SESSIONS,
            PROVISION_LAG,
            PUSHES_WAITING,
            PUSH_OUTCOMES,
            MENU_CALLS,
            MENU_RTP_LATENESS,
            PIN_FAILURES,
            LOCKOUTS,
            REDIS_HEALTH,
            TARGETS_UP,
            KAMAILIO_HEALTH,
        ),
    ),
    Dashboard(
        "hotdesk-binding",
        "Hot desk: binding service",
        "Route lookups, logins and sessions",
        "hotdesk_binding_active_sessions",
        (
            LOOKUPS_BY_KIND,
            LOOKUP_LATENCY,
            LOGINS,
            SESSIONS_ENDED,
            ACTIVE_SESSIONS,
            Panel(
                "Session locations",
                "Emergency locations set or cleared on sessions",
                "short",
                single(increase("hotdesk_binding_session_locations_total", "action"), "{{action}}"),
            ),
            Panel(
                "Directory version",
                "The directory version each instance has loaded",
                "none",
                single(f"max by (instance) (hotdesk_directory_version{{{SEL}}})", "{{instance}}"),
            ),
            *grpc_panels("BindingService"),
        ),
    ),
    Dashboard(
        "hotdesk-auth",
        "Hot desk: auth service",
        "PIN checks, lockouts and argon2 verification",
        "hotdesk_auth_user_pin_failures_total",
        (
            PIN_FAILURES,
            LOCKOUTS,
            Panel(
                "Operator unlocks",
                "Lockouts an operator lifted",
                "short",
                single(increase("hotdesk_auth_unlocks_total"), "unlocks"),
            ),
            latency(
                "PIN verification time",
                "argon2id verification time, waiting for a free slot included",
                "hotdesk_auth_pin_verify_seconds",
            ),
            *grpc_panels("AuthService"),
        ),
    ),
    Dashboard(
        "hotdesk-menu",
        "Hot desk: voice menu",
        "Voice-menu calls, outcomes, digits and prompt RTP",
        "hotdesk_menu_active_calls",
        (
            MENU_CALLS,
            Panel(
                "Voice-menu outcomes",
                "How menu calls ended, or why they were refused",
                "short",
                single(increase("hotdesk_menu_outcomes_total", "outcome"), "{{outcome}}"),
            ),
            Panel(
                "Digits read",
                "DTMF digits the menu read, by method (rfc4733, info), per second",
                "reqps",
                single(rate("hotdesk_menu_dtmf_total", "method"), "{{method}}"),
            ),
            Panel(
                "Prompt RTP packets",
                "Prompt RTP packets the menu sent per second",
                "pps",
                single(rate("hotdesk_menu_rtp_packets_sent_total"), "packets"),
            ),
            MENU_RTP_LATENESS,
        ),
    ),
    Dashboard(
        "hotdesk-provision",
        "Hot desk: provisioning",
        "Phone file fetches, pushes and provisioning lag",
        "hotdesk_provision_pushes_waiting",
        (
            Panel(
                "Phone file fetches",
                "Phone file requests by vendor, file kind and outcome, per second",
                "reqps",
                single(
                    rate("hotdesk_provision_fetches_total", "vendor, kind, outcome"),
                    "{{vendor}} {{kind}} {{outcome}}",
                ),
            ),
            latency(
                "Render time",
                "Time to build and render one device file, Redis reads included",
                "hotdesk_provision_render_seconds",
            ),
            PUSH_OUTCOMES,
            PUSHES_WAITING,
            latency(
                "Push delay",
                "From a binding change to its check-sync NOTIFY leaving (pacing included)",
                "hotdesk_provision_push_delay_seconds",
            ),
            PROVISION_LAG,
            Panel(
                "Phone-screen actions",
                "Phone-screen logins and logouts by outcome",
                "short",
                single(
                    increase("hotdesk_provision_screen_actions_total", "action, outcome"),
                    "{{action}} {{outcome}}",
                ),
            ),
            *grpc_panels("ProvisionService"),
        ),
    ),
    Dashboard(
        "hotdesk-kamailio",
        "Hot desk: Kamailio edge",
        "SIP traffic, hot-desk routing, lookups and health of the edge's Kamailio",
        "kamailio_core_rcv_requests",
        (
            EDGE_CALLS,
            EDGE_ERRORS,
            HOTDESK_ROUTING,
            LOOKUP_AT_KAMAILIO,
            KAMAILIO_REQUESTS,
            REGISTRATIONS,
            DIALOGS,
            EDGE_AUTH,
            Panel(
                "Pushes relayed",
                "check-sync NOTIFYs relayed to phones, to unregistered devices and refused",
                "reqps",
                (
                    Query(rate(kam("script_hotdesk_pushes_relayed_total")), "relayed"),
                    Query(rate(kam("script_hotdesk_pushes_unregistered_total")), "unregistered"),
                    Query(rate(kam("script_hotdesk_pushes_refused_total")), "refused"),
                ),
            ),
            KAMAILIO_HEALTH,
            Panel(
                "Active transactions",
                "SIP transactions in progress",
                "short",
                single(f"sum(kamailio_tmx_active_transactions{{{SEL}}})", "transactions"),
            ),
        ),
    ),
)


def _panel(p: Panel, refs: str = "ABCDEFGHIJ") -> Builder[DashboardPanel]:
    builder: timeseries.Panel | stat.Panel = (
        stat.Panel() if p.kind == "stat" else timeseries.Panel()
    )
    builder = (
        builder.title(p.title)
        .description(p.description)
        .unit(p.unit)
        .datasource(DATASOURCE)
        .height(8)
        .span(12)
    )
    for ref, q in zip(refs, p.queries, strict=False):
        builder = builder.with_target(
            prometheus.Dataquery()
            .expr(q.expr)
            .legend_format(q.legend)
            .ref_id(ref)
            .datasource(DATASOURCE)
        )
    return builder


def build(d: Dashboard) -> dict[str, object]:
    """The dashboard's JSON model."""
    board = (
        db.Dashboard(d.title)
        .uid(d.uid)
        .description(d.description)
        .tags(["hotdesk"])
        .refresh("30s")
        .time("now-1h", "now")
        .with_variable(
            db.DatasourceVariable("datasource")
            .label("Data source")
            .type("prometheus")
            .current(VariableOption(text="default", value="default"))
        )
        .with_variable(
            db.QueryVariable("instance")
            .label("Instance")
            .datasource(DATASOURCE)
            .query(f"label_values({d.instance_metric}, instance)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(VariableOption(text="All", value="$__all"))
        )
    )
    for p in d.panels:
        board = board.with_panel(_panel(p))
    model: dict[str, object] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return model


def render(d: Dashboard) -> str:
    return json.dumps(build(d), indent=2, sort_keys=True) + "\n"


def file_name(d: Dashboard) -> str:
    return d.uid.removeprefix("hotdesk-") + ".json"


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for d in DASHBOARDS:
        (out / file_name(d)).write_text(render(d))


if __name__ == "__main__":
    main(sys.argv[1:])
