"""``make bench``: run the benchmarks and print their tables.

``BENCH_ARGS="--sizes 1000 100000 --seconds 5"`` trims a run.
"""

import argparse
import asyncio

from bench.admin import BoardRun
from bench.admin import measure as measure_board
from bench.blf import BlfLatency
from bench.blf import measure as measure_blf
from bench.capacity import LADDER
from bench.capacity import measure as measure_capacity
from bench.cluster import ONE_NODE, THREE_NODES, ClusterRun, Replication, measure_registrations
from bench.cluster import measure_calls as measure_cluster_calls
from bench.desk_pairs import DESKS as CAPACITY_DESKS
from bench.directory_import import import_table
from bench.directory_import import measure as measure_import
from bench.edge_calls import DESK_TO_DESK, INBOUND, EdgeRun, LoginToRoute, measure_login_to_route
from bench.edge_calls import measure as measure_edge
from bench.emergency import WITH as EMERGENCY_WITH
from bench.emergency import WITHOUT as EMERGENCY_WITHOUT
from bench.emergency import measure as measure_emergency
from bench.grpc_tls import grpc_table, measure_grpc_tls
from bench.knee import report as capacity_report
from bench.measure import percentile, table
from bench.menu import MenuRun
from bench.menu import measure as measure_menu
from bench.menu import p as menu_percentile
from bench.provision import PUSH_BURST, PUSH_RATE, ProvisionResult
from bench.provision import measure as measure_provision
from bench.route_lookup import SizeResult, measure

TARGET_PER_CORE = 10_000  # per CPU-second of the binding service, 16 connections
TARGET_P99_MS = 3.0
TARGET_BYTES = 500


def _lookup_table(results: list[SizeResult]) -> str:
    rows = []
    for r in results:
        for label, run in (("16 conns (saturated)", r.saturated), ("1 conn (unloaded)", r.light)):
            rows.append(
                [
                    f"{r.bindings:,}",
                    label,
                    f"{run.wrk.rate:,.0f}",
                    f"{run.per_core:,.0f}",
                    f"{run.wrk.p50_ms:.2f}",
                    f"{run.wrk.p99_ms:.2f}",
                ]
            )
    return table(["bindings", "load", "lookups/s", "per CPU-s", "p50 ms", "p99 ms"], rows)


def _ratio_table(base: SizeResult, big: SizeResult) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}"

    rows = [
        ["lookups per CPU-s (saturated)", ratio(big.saturated.per_core, base.saturated.per_core)],
        ["lookups/s (saturated)", ratio(big.saturated.wrk.rate, base.saturated.wrk.rate)],
        ["p99 (saturated)", ratio(big.saturated.wrk.p99_ms, base.saturated.wrk.p99_ms)],
        ["p99 (unloaded)", ratio(big.light.wrk.p99_ms, base.light.wrk.p99_ms)],
    ]
    return table([f"{big.bindings:,} vs {base.bindings:,} bindings", "ratio"], rows)


def _memory_table(results: list[SizeResult]) -> str:
    rows = [
        [
            f"{r.bindings:,}",
            f"{r.session_bytes_per_binding:.0f}",
            f"{r.stream_bytes_per_event:.0f}",
            f"{r.directory_bytes_per_pair:.0f}",
        ]
        for r in results
    ]
    return table(
        ["bindings", "session B/binding", "stream B/event", "directory B/user+device"], rows
    )


def _edge_table(runs: list[EdgeRun]) -> str:
    rows = [
        [
            r.mode,
            f"{r.calls_ok:,}",
            f"{r.calls_failed:,}",
            f"{r.cps:,.0f}",
            f"{r.p50:.2f}",
            f"{r.percentile(0.99):.2f}",
        ]
        for r in runs
    ]
    return table(["edge", "calls ok", "failed", "calls/s", "setup p50 ms", "setup p99 ms"], rows)


def _edge_ratio_table(runs: list[EdgeRun]) -> str:
    def of(prefix: str) -> list[EdgeRun]:
        return [r for r in runs if r.mode.startswith(prefix)]

    def cps(group: list[EdgeRun]) -> float:
        return sum(r.cps for r in group) / len(group)

    def p99(group: list[EdgeRun]) -> float:
        return max(r.percentile(0.99) for r in group)

    plain, hot, inbound = of("plain"), of(DESK_TO_DESK), of(INBOUND)
    return table(
        ["same run", "value"],
        [
            ["hot-desk / plain calls/s (target >= 0.90)", f"{cps(hot) / cps(plain):.2f}"],
            ["hot-desk added setup p99 ms (target <= 5)", f"{p99(hot) - p99(plain):.2f}"],
            ["inbound from a trunk / desk-to-desk calls/s", f"{cps(inbound) / cps(hot):.2f}"],
            ["inbound vs desk-to-desk setup p50 ms", f"{inbound[0].p50:.2f} vs {hot[0].p50:.2f}"],
        ],
    )


def _emergency_ratio_table(runs: list[EdgeRun]) -> str:
    def of(prefix: str) -> list[EdgeRun]:
        return [r for r in runs if r.mode.startswith(prefix)]

    located, bare = of(EMERGENCY_WITH), of(EMERGENCY_WITHOUT)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    p50 = mean([r.p50 for r in located]) - mean([r.p50 for r in bare])
    p99 = mean([r.percentile(0.99) for r in located]) - mean([r.percentile(0.99) for r in bare])
    cps = mean([r.cps for r in located]) / mean([r.cps for r in bare])
    return table(
        ["same run", "value"],
        [
            ["location added to set-up p50 ms (mean of rounds)", f"{p50:.2f}"],
            ["location added to set-up p99 ms (mean of rounds)", f"{p99:.2f}"],
            ["with / without location calls/s", f"{cps:.2f}"],
        ],
    )


def _latency_row(label: str, values: list[float], count: str = "") -> list[str]:
    """label, n, p50 ms, p99 ms."""
    return [
        label,
        count or f"{len(values)}",
        f"{percentile(values, 0.5):.1f}",
        f"{percentile(values, 0.99):.1f}",
    ]


def _login_table(r: LoginToRoute) -> str:
    return (
        table(
            ["login accepted -> next INVITE at the new device", "n", "p50 ms", "p99 ms"],
            [
                _latency_row(
                    "login accepted -> INVITE arrives (incl. caller start)", r.login_to_arrival_ms
                ),
                _latency_row(
                    "INVITE sent -> arrives at the new device (the edge)", r.invite_to_arrival_ms
                ),
            ],
        )
        + f"\nfirst INVITEs after a login that went to the old device: {r.wrong_device}"
    )


def _blf_table(r: BlfLatency) -> str:
    def row(label: str, values: list[float]) -> list[str]:
        return _latency_row(label, values, f"{len(values)} of {r.calls}")

    return table(
        ["call state change -> BLF NOTIFY at the watcher", "n", "p50 ms", "p99 ms"],
        [
            row("callee's phone sends 180 -> early", r.early_ms),
            row("callee's phone sends 200 -> confirmed", r.confirmed_ms),
            row("caller sends BYE -> terminated", r.terminated_ms),
        ],
    )


def _provision_tables(r: ProvisionResult) -> str:
    base = r.files[0]
    files = table(
        [
            "phone files (HTTP, 8 clients)",
            "files",
            "files/s",
            "per CPU-s",
            "p50 ms",
            "p99 ms",
            "vs baseline",
        ],
        [
            [
                f.label,
                f"{f.files:,}",
                f"{f.rate:,.0f}",
                f"{f.per_cpu:,.0f}",
                f"{percentile(f.latencies_ms, 0.5):.2f}",
                f"{percentile(f.latencies_ms, 0.99):.2f}",
                f"{f.per_cpu / base.per_cpu:.2f}",
            ]
            for f in r.files
        ],
    )
    login = table(
        ["login -> check-sync NOTIFY at the phone (via Kamailio)", "n", "p50 ms", "p99 ms"],
        [_latency_row("binding Login RPC called -> NOTIFY received", r.login_to_notify_ms)],
    )
    rate = r.wave_pushes / r.wave_seconds if r.wave_seconds else 0.0
    wave = table(
        ["mass logout, pacing on", "value"],
        [
            ["devices logged out at once", f"{r.wave_devices:,}"],
            ["NOTIFYs delivered", f"{r.wave_pushes:,}"],
            ["first to last NOTIFY, s", f"{r.wave_seconds:.1f}"],
            [f"pushes/s (configured {PUSH_RATE}/s, burst {PUSH_BURST})", f"{rate:,.0f}"],
            ["ratio to the configured rate", f"{rate / PUSH_RATE:.2f}"],
            ["most NOTIFYs in any one second", f"{r.wave_max_per_second:,}"],
        ],
    )
    return f"{files}\n\n{login}\n\n{wave}"


def _menu_table(runs: list[MenuRun]) -> str:
    base = menu_percentile(runs[0].spacing_errors_ms, 0.99)
    rows = [
        [
            f"{r.calls}",
            f"{r.streams}",
            f"{r.packets:,}",
            f"{menu_percentile(r.spacing_errors_ms, 0.5):.2f}",
            f"{menu_percentile(r.spacing_errors_ms, 0.99):.2f}",
            f"{max(r.spacing_errors_ms, default=0):.2f}",
            f"{r.cpu_seconds / r.seconds * 100:.0f} %",
            f"{menu_percentile(r.spacing_errors_ms, 0.99) / base:.2f}" if base else "-",
        ]
        for r in runs
    ]
    return table(
        [
            "calls at once",
            "RTP streams",
            "packets",
            "error p50 ms",
            "error p99 ms",
            "max ms",
            "menu CPU",
            "p99 vs 1 call",
        ],
        rows,
    )


def _cluster_tables(runs: list[ClusterRun], replication: Replication) -> str:
    rows = [
        [r.mode, f"{r.calls_ok:,}", f"{r.calls_failed:,}", f"{r.seconds:.1f}", f"{r.cps:,.0f}"]
        for r in runs
    ]
    calls = table(["mode", "calls ok", "failed", "seconds", "calls/s"], rows)

    def mean_cps(mode: str) -> float:
        picked = [r.cps for r in runs if r.mode.startswith(mode)]
        return sum(picked) / len(picked)

    ratio = table(
        ["three nodes vs one (same run, same offered load)", "ratio"],
        [["calls/s", f"{mean_cps(THREE_NODES) / mean_cps(ONE_NODE):.2f}"]],
    )
    held = table(
        ["registered at node 1", "held by nodes 2 and 3", "replicated within s"],
        [
            [
                f"{replication.registered:,}",
                ", ".join(f"{n:,}" for n in replication.held),
                f"{replication.seconds:.1f}",
            ]
        ],
    )
    return f"{calls}\n\n{ratio}\n\n{held}"


def _board_table(run: BoardRun) -> str:
    p50 = percentile(run.latencies_ms, 0.50)
    p99 = percentile(run.latencies_ms, 0.99)
    rows = [
        [
            f"{run.devices:,}",
            str(run.viewers),
            f"{run.rate:,.0f}",
            f"{p50:.1f}",
            f"{p99:.1f}",
            str(run.errors) + (f" {sorted(set(run.error_statuses))}" if run.errors else ""),
            f"{run.cpu_seconds / run.seconds:.2f}",
        ]
    ]
    headers = ["devices", "viewers", "pages/s", "p50 ms", "p99 ms", "errors", "admin CPU/s"]
    return table(headers, rows)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument(
        "--only",
        choices=[
            "lookups",
            "capacity",
            "edge",
            "cluster",
            "emergency",
            "provision",
            "menu",
            "grpc",
            "import",
            "admin",
            "all",
        ],
        default="all",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--admin-devices", type=int, default=2_000)
    parser.add_argument("--admin-viewers", type=int, default=100)
    parser.add_argument(
        "--capacity-rates",
        type=int,
        nargs="+",
        default=list(LADDER),
        help="the ladder of offered calls/s; each path climbs it to its first failing step",
    )
    parser.add_argument(
        "--capacity-seconds", type=int, default=5, help="length of one step (offered load)"
    )
    parser.add_argument(
        "--capacity-refine",
        type=int,
        default=2,
        help="probes per path between its knee and its first failing rate",
    )
    parser.add_argument(
        "--capacity-desks",
        type=int,
        default=CAPACITY_DESKS,
        help="caller desks, and as many callee desks, each with its own user (1: one pair)",
    )
    parser.add_argument("--edge-calls", type=int, default=3_000)
    parser.add_argument("--edge-in-flight", type=int, default=20)
    parser.add_argument("--emergency-calls", type=int, default=1_000)
    parser.add_argument("--login-iterations", type=int, default=60)
    parser.add_argument("--blf-calls", type=int, default=100)
    parser.add_argument("--fleet", type=int, default=2_000, help="phones in the provision run")
    parser.add_argument("--menu-calls", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--import-users", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument(
        "--import-real-argon2",
        type=int,
        nargs="*",
        default=[100],
        help="import sizes also run at the production argon2 cost",
    )
    args = parser.parse_args()
    if args.only in ("admin", "all"):
        print("admin: the board under concurrent viewers ...", flush=True)
        board = await measure_board(args.admin_devices, args.admin_viewers, args.seconds)
        print("\nAdmin API board (GET /api/v1/devices, first page of 50, one process)")
        print(_board_table(board))
        print()
    if args.only == "admin":
        return
    if args.only in ("import", "all"):
        imports = await measure_import(args.import_users, args.import_real_argon2)
        print("\nDirectory import (read + validate the file, plan, write; a fresh Redis each size)")
        print(import_table(imports))
        print()
    if args.only == "import":
        return
    if args.only in ("grpc", "all"):
        print("gRPC: plaintext against mutual TLS ...", flush=True)
        grpc_runs = await measure_grpc_tls()
        print("\nThe binding service's gRPC, one call at a time (client in the same process)")
        print(grpc_table(grpc_runs))
        print()
    if args.only == "grpc":
        return
    if args.only in ("menu", "all"):
        print("voice menu: prompt pacing ...", flush=True)
        menu = await asyncio.to_thread(measure_menu, args.menu_calls, 4.0)
        print("\nPrompt RTP spacing error |spacing - 20 ms| at one receiver (target p99 <= 5 ms)")
        print(_menu_table(menu))
        print()
    if args.only == "menu":
        return
    if args.only in ("provision", "all"):
        print(f"provision: {args.fleet:,} registered phones ...", flush=True)
        result = await asyncio.to_thread(
            measure_provision, args.fleet, args.seconds, args.login_iterations
        )
        print()
        print(_provision_tables(result))
        print()
    if args.only == "provision":
        return
    if args.only in ("capacity", "all"):
        print("capacity: open-loop calls at stepped rates, plain and hot-desk ...", flush=True)
        capacity = await asyncio.to_thread(
            measure_capacity,
            args.capacity_rates,
            args.capacity_seconds,
            args.capacity_refine,
            args.capacity_desks,
        )
        print()
        print(capacity_report(capacity.ladder, capacity.half))
        print()
    if args.only == "capacity":
        return
    if args.only in ("edge", "all"):
        print("edge: calls with and without the hot-desk lookup ...", flush=True)
        runs = await asyncio.to_thread(measure_edge, args.edge_calls, args.edge_in_flight)
        print(
            "\nClosed loop, a secondary view (calls/s is what that many calls in flight reach: "
            "latency, not capacity): calls through Kamailio (INVITE/407/INVITE/200/ACK/BYE, "
            f"{args.edge_in_flight} in flight)"
        )
        print(_edge_table(runs))
        print()
        print(_edge_ratio_table(runs))
        login = await asyncio.to_thread(measure_login_to_route, args.login_iterations)
        print()
        print(_login_table(login))
        print("targets: login -> routed p99 <= 100 ms\n")
        blf = await asyncio.to_thread(measure_blf, args.blf_calls)
        print(_blf_table(blf))
        print()
    if args.only == "edge":
        return
    if args.only in ("cluster", "all"):
        print("cluster: three Kamailio nodes against one ...", flush=True)
        cluster_runs = await asyncio.to_thread(
            measure_cluster_calls, args.edge_calls, args.edge_in_flight
        )
        replication = await asyncio.to_thread(measure_registrations, args.fleet)
        print(f"\nCalls through the cluster ({args.edge_in_flight} in flight per caller)")
        print(_cluster_tables(cluster_runs, replication))
        print()
    if args.only == "cluster":
        return
    if args.only in ("emergency", "all"):
        print("emergency: 112 with and without the desk's location ...", flush=True)
        emergency = await asyncio.to_thread(
            measure_emergency, args.emergency_calls, args.edge_in_flight
        )
        print(f"\nEmergency calls through Kamailio ({args.edge_in_flight} in flight)")
        print(_edge_table(emergency))
        print()
        print(_emergency_ratio_table(emergency))
        print()
    if args.only == "emergency":
        return
    results = []
    for n in args.sizes:
        print(f"route lookups: loading {n:,} bindings ...", flush=True)
        results.append(await measure(n, args.seconds))
    print("\nKamailio-facing lookups (GET /v1/route, one service process)")
    print(_lookup_table(results))
    if len(results) > 1:
        print()
        print(_ratio_table(results[0], results[-1]))
    print("\nRedis memory")
    print(_memory_table(results))
    print(
        f"\ntargets: >= {TARGET_PER_CORE:,} lookups per core-second, p99 <= {TARGET_P99_MS} ms, "
        f"flat from 1k to 1M (ratios near 1), <= {TARGET_BYTES} B per binding"
    )


asyncio.run(main())
