"""Capacity of the edge with and without the hot-desk lookup: open-loop
calls at stepped rates, in one run on one machine.

Two Kamailio edges from the same kamailio.cfg run side by side, one with
the lookup and one with it switched off, on the same Redis, binding
service and registered desk phones (one answering sipp behind every callee
desk), under the load of ``bench.desk_pairs`` (calls between many pairs of
desks, each with its own user). For each rate of
the ladder each path gets one step (the order alternates from rate to
rate, so drift of the shared machine hits both): a calling sipp offers
``rate`` calls/s for ``seconds`` (``-r``, ``-rp 1000``, as many calls in
flight as it takes), each call INVITE/407/INVITE/200/ACK/BYE with digest
auth, every call given at most ``RECV_TIMEOUT_MS`` per answer. A path
stops climbing at its first failing step; then each path is probed
between its knee and its first failing rate, and both run once more at
half the plain knee. See ``bench.knee`` for what a step passes and what
the knee and the headline are.

Set-up (authenticated INVITE -> 200 OK) is timed from the calling sipp's
short message log (one line per message, microsecond stamps); CPU per
process from /proc before and after each step (the calling sipp's from
its own rusage).
"""

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.desk_pairs import DESKS, DeskPairs, desks_stack
from bench.edge_calls import Stack, answering_phone, final_stats
from bench.knee import HOTDESK, PATHS, PLAIN, Step, between, half_knee_rate
from bench.knee import knee as knee_of
from bench.measure import cpu_seconds, group_cpu_seconds, machine_busy_seconds
from tests.support.kamailio import KamailioServer, free_udp_port

ANSWER_SCENARIO = Path(__file__).with_name("sip") / "answer_at_once.xml"
LADDER = (50, 100, 200, 400, 700, 1_000, 1_400, 2_000, 2_800, 4_000, 5_600)
RECV_TIMEOUT_MS = 5_000  # a call not answered within this is a failure (timed out)
SETTLE_WITHIN_S = 30.0  # between steps, until the stack is quiet again (at most this long)
NOISY_CORES = 0.25  # a failing step while others kept this much of the machine busy runs again
QUIET_SHARE = 0.05  # quiet: our processes use under 5 % of one core together


@dataclass(frozen=True)
class Capacity:
    ladder: list[Step]  # the ladder's steps and the probes, in the order run
    half: list[Step] = field(default_factory=list)  # both paths at half the plain knee


def parse_short_log(text: str) -> tuple[float, list[float]]:
    """From sipp's short message log (tab-separated: date, time, epoch
    seconds, S/R, Call-ID, CSeq, first line): the rate at which new calls
    were sent (first to last initial INVITE), and per answered call the
    set-up time in ms, from the first authenticated INVITE (CSeq 2, so a
    retransmission's wait counts) to the first 200 OK to it."""
    started: dict[str, float] = {}
    invited: dict[str, float] = {}
    answered: set[str] = set()
    setup: list[float] = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 7:
            continue
        at, direction, call_id, cseq, first = (float(fields[2]), *fields[3:7])
        if direction == "S" and first.startswith("INVITE "):
            if cseq == "CSeq:1 INVITE":
                started.setdefault(call_id, at)
            elif cseq == "CSeq:2 INVITE":
                invited.setdefault(call_id, at)
        elif (
            direction == "R"
            and cseq == "CSeq:2 INVITE"
            and first.startswith("SIP/2.0 200")
            and call_id in invited
            and call_id not in answered
        ):
            answered.add(call_id)
            setup.append((at - invited[call_id]) * 1000)
    span = max(started.values()) - min(started.values()) if started else 0.0
    return ((len(started) - 1) / span if span > 0 else 0.0), setup


def _run_for_cpu(argv: list[str], cwd: Path, within: float) -> float:
    """Run ``argv`` to its end (killed after ``within`` s); its CPU seconds."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + within
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == 0 and time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.05)


@dataclass
class Edges:
    st: Stack
    kamailio: dict[str, KamailioServer]
    answering: "subprocess.Popen[bytes]"
    load: DeskPairs
    steps_run: int = 0

    def _shared_cpu(self) -> dict[str, float]:
        assert self.st.redis.proc is not None
        return {
            "binding": cpu_seconds(self.st.binding.pid),
            "redis": cpu_seconds(self.st.redis.proc.pid),
            "answering sipp": cpu_seconds(self.answering.pid),
        }

    def _kamailio_cpu(self, path: str) -> float:
        main = self.kamailio[path].proc
        assert main is not None
        return group_cpu_seconds(main.pid)  # its own process group: every worker

    def _cpu(self, path: str) -> dict[str, float]:
        return {"kamailio": self._kamailio_cpu(path), **self._shared_cpu()}

    def _all_cpu(self) -> float:
        """CPU seconds of every process of the stack (both edges)."""
        return sum(self._kamailio_cpu(p) for p in PATHS) + sum(self._shared_cpu().values())

    def _lookup_totals(self) -> tuple[tuple[float, int], tuple[float, int]]:
        """Seconds and count of the hot-desk edge's answered lookups so far:
        Kamailio's histogram, the binding service's."""
        kamailio = dict(
            line.split()[:2]
            for line in self.kamailio[HOTDESK].metrics().splitlines()
            if line.startswith("kamailio_hotdesk_lookup_seconds_")
        )
        binding = self.st.binding.metrics()
        return (
            (
                float(kamailio.get("kamailio_hotdesk_lookup_seconds_sum", 0)),
                int(float(kamailio.get("kamailio_hotdesk_lookup_seconds_count", 0))),
            ),
            (
                binding["hotdesk_binding_route_lookup_seconds_sum"],
                int(binding["hotdesk_binding_route_lookup_seconds_count"]),
            ),
        )

    def settle(self, window: float = 0.5) -> None:
        """Until the last step's stragglers are done (an overloaded edge
        works off its backlog; the phone retransmits unacknowledged 200s),
        so one step's load does not spill into the next."""
        deadline = time.monotonic() + SETTLE_WITHIN_S
        while time.monotonic() < deadline:
            before = self._all_cpu()
            time.sleep(window)
            if self._all_cpu() - before < QUIET_SHARE * window:
                return

    def step(self, path: str, rate: int, seconds: int) -> Step:
        """``rate`` calls/s for ``seconds`` through the edge of ``path``."""
        kamailio = self.kamailio[path]
        self.steps_run += 1
        run_dir = (
            self.st.work / f"step-{self.steps_run}-{rate}-{'hot' if path == HOTDESK else 'plain'}"
        )
        run_dir.mkdir()
        calls = rate * seconds
        limit = seconds + RECV_TIMEOUT_MS // 1000 * 2 + 10
        stat, short = run_dir / "stat.csv", run_dir / "short.log"
        argv = self.load.caller_argv(
            kamailio,
            path == HOTDESK,
            *("-r", str(rate), "-rp", "1000", "-m", str(calls), "-l", str(calls)),
            *("-recv_timeout", str(RECV_TIMEOUT_MS), "-timeout", f"{limit}s"),
            *("-trace_stat", "-stf", str(stat), "-fd", "1"),
            *("-trace_shortmsg", "-shortmessage_file", str(short)),
            *("-trace_err", "-error_file", str(run_dir / "errors.log")),
        )
        before, ours_before, busy_before = self._cpu(path), self._all_cpu(), machine_busy_seconds()
        lookups_before = self._lookup_totals()
        hits_before = self._cache_hits(path)
        started = time.monotonic()
        caller_cpu = _run_for_cpu(argv, run_dir, limit + 30)
        wall = time.monotonic() - started
        after, ours_after, busy_after = self._cpu(path), self._all_cpu(), machine_busy_seconds()
        lookups = [
            (end[0] - start[0], end[1] - start[1])
            for start, end in zip(lookups_before, self._lookup_totals(), strict=True)
        ]
        ours = ours_after - ours_before + caller_cpu
        totals = final_stats(stat)
        sent_rate, setup = parse_short_log(short.read_text(errors="replace"))
        short.unlink()  # large; the numbers are kept
        self.settle()
        return Step(
            path=path,
            rate=rate,
            attempted=int(totals["OutgoingCall(C)"]),
            completed=int(totals["SuccessfulCall(C)"]),
            failed=int(totals["FailedCall(C)"]),
            timed_out=int(totals["FailedTimeoutOnRecv(C)"]) + int(totals["FailedMaxUDPRetrans(C)"]),
            unexpected=int(totals["FailedUnexpectedMessage(C)"]),
            retransmissions=int(totals["Retransmissions(C)"]),
            sent_rate=sent_rate,
            setup_ms=tuple(setup),
            cpu_seconds={k: after[k] - before[k] for k in after} | {"calling sipp": caller_cpu},
            others_cores=max(0.0, busy_after - busy_before - ours) / wall,
            lookups_at_kamailio=lookups[0] if path == HOTDESK else (0.0, 0),
            lookups_in_binding=lookups[1] if path == HOTDESK else (0.0, 0),
            cache_hits=self._cache_hits(path) - hits_before,
        )

    def _cache_hits(self, path: str) -> int:
        """Calls the hot-desk edge routed from its route cache so far."""
        if path != HOTDESK:
            return 0
        return int(self.kamailio[HOTDESK].counter("hotdesk_route_cache_hits_total"))


@contextlib.contextmanager
def edges(desks: int) -> Iterator[Edges]:
    """The stack with ``2 * desks`` fleet desks, each with its own user
    logged in, the callee desks registered at both edges (the answering
    phone's address), and both edges started."""
    with desks_stack(desks) as (st, load):
        answer_port = free_udp_port()
        answering = answering_phone(
            answer_port,
            *("-l", "100000", "-recv_timeout", str(RECV_TIMEOUT_MS * 2)),
            scenario=ANSWER_SCENARIO,
        )
        kamailio = {PLAIN: st.edge("kamailio-plain", False), HOTDESK: st.edge("kamailio-hotdesk")}
        try:
            for server in kamailio.values():
                server.start()
                load.register(server, answer_port)
            e = Edges(st, kamailio, answering, load)
            e.settle()  # start-up done
            yield e
        finally:
            for server in kamailio.values():
                server.stop()
            answering.kill()
            answering.wait()


def _progress(step: Step) -> None:
    p99 = "-" if step.p99 is None else f"{step.p99:.2f} ms"
    print(
        f"  {step.path:>20} {step.rate:>6,}/s: {step.completed:,} of {step.attempted:,} "
        f"completed, set-up p99 {p99}, others kept {step.others_cores:.2f} cores busy"
        f"{'' if step.passes else '  (over the knee)'}",
        flush=True,
    )


def measure(rates: Sequence[int], seconds: int, refine: int, desks: int = DESKS) -> Capacity:
    """The ladder (each path until its first failing step), ``refine``
    probes per path between its knee and first failure, then both paths
    at half the plain knee. A failing step during which other processes
    of the machine kept more than ``NOISY_CORES`` busy runs once more (the
    second result counts, marked as a rerun)."""
    result = Capacity([])

    def run(e: Edges, path: str, rate: int, into: list[Step]) -> bool:
        step = e.step(path, rate, seconds)
        _progress(step)
        if not step.passes and step.others_cores > NOISY_CORES:
            print("  (others were busy: once more)", flush=True)
            step = replace(e.step(path, rate, seconds), rerun=True)
            _progress(step)
        into.append(step)
        return step.passes

    with edges(desks) as e:
        climbing = list(PATHS)
        for i, rate in enumerate(sorted(set(rates))):
            for path in list(climbing if i % 2 == 0 else reversed(climbing)):
                if not run(e, path, rate, result.ladder):
                    climbing.remove(path)
            if not climbing:
                break
        for round_no in range(refine):
            probes = [(p, between(knee_of(result.ladder, p))) for p in PATHS]
            todo = [(p, r) for p, r in probes if r is not None]
            for path, rate in todo if round_no % 2 else reversed(todo):
                run(e, path, rate, result.ladder)
        half_rate = half_knee_rate(knee_of(result.ladder, PLAIN))
        if half_rate:
            for path in PATHS:
                run(e, path, half_rate, result.half)
    return result
