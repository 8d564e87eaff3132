"""``make bench``: run the benchmarks and print their tables.

``BENCH_ARGS="--sizes 1000 100000 --seconds 5"`` trims a run.
"""

import argparse
import asyncio

from bench.measure import table
from bench.route_lookup import SizeResult, measure

TARGET_PER_CORE = 5_000
TARGET_P99_MS = 5.0
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


async def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
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
