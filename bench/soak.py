"""``make soak``: the hot-desk edge under a steady call rate for a bounded
time (default 10 minutes at 100 calls/s, between the pairs of desks of
``bench.desk_pairs``), sampling Kamailio's memory and the lookup counters,
so a leak or a failing http_async_client shows.

Debian's 5.6 http_async_client lacks later upstream fixes; this is where
that would surface. Everything runs on 127.0.0.1 and stops by itself.
"""

import argparse
import csv
import json
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass

from bench.capacity import ANSWER_SCENARIO
from bench.desk_pairs import DESKS, desks_stack
from bench.edge_calls import answering_phone
from bench.measure import table
from tests.support.kamailio import free_udp_port

# Kamailio's line for a failed lookup (route HOTDESK_REPLY): its status and
# curl's error say whether the service was slow, refused or answered badly.
LOOKUP_FAILED = re.compile(r"binding lookup failed: ([^\"\n]*)")
# The binding service's side of a failed lookup (services/binding/http_api.py).
BINDING_FAILURES = ("route_unavailable", "route_failed")
# Kamailio's own errors: " 3(6649) ERROR: {1 2 ACK <call-id>} dialog
# [dlg_handlers.c:1498]: dlg_onroute(): failed to ...", counted by level,
# module, place and the start of the message (numbers and addresses as N).
KAMAILIO_ERROR = re.compile(
    r"\) (ERROR|CRITICAL): (?:\{[^}]*\} )?(\S+ \[[^\]]+\]: \S+\(\)[^\n]{0,60})"
)
NUMBERS = re.compile(r"(0x[0-9a-f]+|[0-9]+)")


@dataclass(frozen=True)
class Sample:
    elapsed_s: float
    calls_ok: int
    calls_failed: int
    metrics: dict[str, float]  # Kamailio's
    binding_rss_mb: float  # the binding service's resident memory


def _metrics(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and not line.startswith("#"):
            try:
                values[fields[0]] = float(fields[1])
            except ValueError:
                continue
    return values


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def _calls(stat_file: str) -> tuple[int, int]:
    try:
        with open(stat_file) as f:
            rows = list(csv.DictReader(f, delimiter=";"))
    except OSError:
        return 0, 0
    if not rows:
        return 0, 0
    return int(rows[-1]["SuccessfulCall(C)"]), int(rows[-1]["FailedCall(C)"])


@dataclass(frozen=True)
class Soak:
    samples: list[Sample]
    lookup_failures: Counter[str]  # Kamailio's reason -> how many
    binding_failures: Counter[str]  # the binding service's event and error -> how many
    kamailio_errors: Counter[str]  # Kamailio's error (KAMAILIO_ERROR) -> how many


def _binding_failures(log: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for line in log.splitlines():
        if not any(event in line for event in BINDING_FAILURES):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") in BINDING_FAILURES:
            found[f"{record['event']}: {str(record.get('error', ''))[:100]}"] += 1
    return found


def _kamailio_errors(log: str) -> Counter[str]:
    return Counter(
        f"{m.group(1)} {NUMBERS.sub('N', m.group(2))}" for m in KAMAILIO_ERROR.finditer(log)
    )


def soak(seconds: int, rate: int, every: int, desks: int = DESKS) -> Soak:
    samples: list[Sample] = []
    with desks_stack(desks) as (st, load):
        kamailio = st.edge("kamailio-soak")
        kamailio.start()
        port = free_udp_port()
        # Answered at once (no 180: under load Kamailio may relay it after
        # the 200, which the calling sipp counts as a failed call).
        phone = answering_phone(port, "-l", str(rate * 4), scenario=ANSWER_SCENARIO)
        stat = str(st.work / "soak-stat.csv")
        caller: subprocess.Popen[bytes] | None = None
        try:
            load.register(kamailio, port)  # for an hour: longer than any soak
            caller = subprocess.Popen(
                load.caller_argv(
                    kamailio,
                    True,
                    *("-r", str(rate), "-m", str(rate * seconds), "-l", str(rate * 4)),
                    *("-timeout", f"{seconds + 60}s", "-trace_stat", "-stf", stat, "-fd", "5"),
                ),
                cwd=st.work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started = time.monotonic()
            deadline = started + seconds + 60
            while time.monotonic() < deadline:
                time.sleep(min(every, max(0.0, deadline - time.monotonic())))
                now = time.monotonic()
                ok, failed = _calls(stat)
                samples.append(
                    Sample(
                        now - started,
                        ok,
                        failed,
                        _metrics(kamailio.metrics()),
                        _rss_mb(st.binding.pid),
                    )
                )
                if caller.poll() is not None:
                    break
        finally:
            if caller is not None and caller.poll() is None:
                caller.kill()
            phone.kill()
            kamailio.stop()
        log = kamailio.log
        failures = Counter(m.group(1).strip() for m in LOOKUP_FAILED.finditer(log))
        binding = _binding_failures(st.binding.log_file.read_text(errors="replace"))
    return Soak(samples, failures, binding, _kamailio_errors(log))


_SHOWN = [
    ("shm used MB", "kamailio_shmem_used_size", 1 / 1_048_576),
    ("shm fragments", "kamailio_shmem_fragments", 1),
    ("rewritten", "kamailio_script_hotdesk_rewritten_total", 1),
    ("lookup errors", "kamailio_script_hotdesk_lookup_errors_total", 1),
    ("active transactions", "kamailio_tmx_active_transactions", 1),
]


def report(run: Soak) -> str:
    samples = run.samples
    rows = []
    for s in samples:
        row = [f"{s.elapsed_s:.0f}", f"{s.calls_ok:,}", f"{s.calls_failed:,}"]
        for _, name, scale in _SHOWN:
            value = s.metrics.get(name)
            row.append("-" if value is None else f"{value * scale:,.1f}")
        rows.append([*row, f"{s.binding_rss_mb:,.1f}"])
    labels = [label for label, _, _ in _SHOWN]
    text = table(["s", "calls ok", "failed", *labels, "binding RSS MB"], rows)
    if len(samples) >= 2:
        first, last = samples[0].metrics, samples[-1].metrics
        growth = (
            last.get("kamailio_shmem_used_size", 0) - first.get("kamailio_shmem_used_size", 0)
        ) / 1_048_576
        rss = samples[-1].binding_rss_mb - samples[0].binding_rss_mb
        text += (
            f"\nshared memory from the first to the last sample: {growth:+.2f} MB; "
            f"binding service RSS: {rss:+.1f} MB; "
            f"lookup errors: {last.get('kamailio_script_hotdesk_lookup_errors_total', 0):.0f}"
        )
    for reason, count in run.lookup_failures.most_common():
        text += f"\n  failed lookups, {reason}: {count:,}"
    for reason, count in run.binding_failures.most_common():
        text += f"\n  the binding service's {reason}: {count:,}"
    for error, count in run.kamailio_errors.most_common(10):
        text += f"\n  Kamailio {error}: {count:,}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(prog="make soak")
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--rate", type=int, default=100, help="calls per second")
    parser.add_argument("--every", type=int, default=30, help="sample interval (s)")
    parser.add_argument(
        "--desks", type=int, default=DESKS, help="caller desks, and as many callee desks"
    )
    args = parser.parse_args()
    print(
        f"soak: {args.rate} calls/s for {args.seconds} s through the hot-desk edge, "
        f"between {args.desks:,} pairs of desks ...",
        flush=True,
    )
    print(report(soak(args.seconds, args.rate, args.every, args.desks)))


if __name__ == "__main__":
    main()
