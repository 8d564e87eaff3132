"""Calls through Kamailio with the hot-desk lookup against the same
kamailio.cfg with the lookup switched off, side by side in one run (and,
with the lookup, calls from a trunk to a user's DID beside desk-to-desk
calls); and login accepted -> the next INVITE at the new desk.

Both edges authenticate every INVITE (digest, HA1 from Redis) and route to
the same registered desk phone (a sipp answering peer). The caller is sipp
with a fixed number of calls in flight, so the rate it reaches is what the
edge sustains on this machine. Call setup (authenticated INVITE -> 200 OK)
is timed from sipp's message log, whose stamps have microseconds (sipp's own
response-time clock ticks in 4 ms steps here).
"""

import contextlib
import csv
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc

from bench.measure import percentile
from tests.support import pki
from tests.support.binding_process import BindingProcess
from tests.support.demo import (
    Gateways,
    caller_argv,
    import_demo_directory,
    import_directory_text,
    registration,
)
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.redis_server import RedisServer
from tests.support.sipp import SCENARIOS, parse_message_log

LOAD_SCENARIO = Path(__file__).with_name("sip") / "call.xml"
PEER_SCENARIO = Path(__file__).with_name("sip") / "peer_call.xml"
SETUP_SAMPLES = 300
DESK_TO_DESK = "hot-desk lookup"
INBOUND = "inbound from a trunk"
BOB_DID = "+4930123451002"


@dataclass(frozen=True)
class EdgeRun:
    mode: str
    calls_ok: int
    calls_failed: int
    seconds: float
    setup_ms: list[float]

    @property
    def cps(self) -> float:
        return self.calls_ok / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.setup_ms)

    def percentile(self, q: float) -> float:
        return percentile(self.setup_ms, q)


@dataclass(frozen=True)
class LoginToRoute:
    login_to_arrival_ms: list[float]  # includes the calling sipp's start-up
    invite_to_arrival_ms: list[float]  # the edge's part
    wrong_device: int


@dataclass
class Stack:
    work: Path
    redis: RedisServer
    binding: BindingProcess
    peer_port: int  # where the demo PSTN gateway's calls come from

    def edge(self, name: str, hotdesk: bool = True) -> KamailioServer:
        return KamailioServer(
            self.work / name,
            redis=self.redis,
            binding_url=self.binding.route_url,
            emergency_gw="sip:127.0.0.1:9",
            pstn_gw="sip:127.0.0.1:9",
            hotdesk=hotdesk,
        )

    def login(self, device: str, ext: str) -> None:
        self.login_all([(device, ext)])

    def login_all(self, desks: Sequence[tuple[str, str]]) -> None:
        """Each (device, extension): that acme user logged in at that desk."""
        stub = binding_pb2_grpc.BindingServiceStub(pki.channel(self.binding.grpc_address))
        for device, ext in desks:
            stub.Login(
                pb.LoginRequest(
                    device_id=device, actor="bench", user=pb.UserRef(tenant="acme", extension=ext)
                )
            )


@contextlib.contextmanager
def stack(emergency_port: int = 9, directory: str | None = None) -> Iterator[Stack]:
    """Redis (AOF), the demo directory (or ``directory``'s text) and the
    binding service, in a temporary directory; Kamailio edges are started
    from it. Emergency calls go to ``emergency_port`` (the discard port
    unless a gateway is there)."""
    with tempfile.TemporaryDirectory(prefix="hotdesk-edge-bench-") as tmp:
        work = Path(tmp)
        redis = RedisServer(work / "redis", fsync="everysec")
        redis.start()
        binding = BindingProcess(redis.url, work / "binding.log")
        peer_port = free_udp_port()
        try:
            # Calls out go nowhere (the discard port); the trunk calls in
            # from its own port.
            if directory is None:
                import_demo_directory(redis.url, Gateways(emergency_port, 9, peer_port))
            else:
                import_directory_text(redis.url, directory)
            binding.start()
            yield Stack(work, redis, binding, peer_port)
        finally:
            binding.stop()
            redis.kill()


# sipp's UDP socket buffers (its default is 64 KB): a load sipp must not be
# the one dropping datagrams at the rates measured.
SIPP_BUFFERS = ("-buff_size", str(4 * 1024 * 1024))


def answering_phone(
    port: int, *extra: str, scenario: Path = SCENARIOS / "answer.xml"
) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-nostdin",
            *SIPP_BUFFERS,
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def register(kamailio: KamailioServer, device: str, contact_port: int) -> None:
    registration(
        kamailio.sip_port,
        device,
        contact_port=contact_port,
        log_dir=kamailio.run_dir,
        name=f"register-{device}",
    ).run()


def _caller(kamailio: KamailioServer, number: str, peer_port: int | None) -> list[str]:
    """sipp as desk phone hd3001 (digest each call), or as the trunk from
    ``peer_port`` (no digest: it is known by its address)."""
    if peer_port is None:
        return caller_argv(kamailio.sip_port, LOAD_SCENARIO, number)
    return [
        *("sipp", f"127.0.0.1:{kamailio.sip_port}", "-sf", str(PEER_SCENARIO)),
        *("-i", "127.0.0.1", "-p", str(peer_port), "-s", number),
        *("-key", "domain", "hotdesk.local", "-nostdin"),
    ]


def call_load(
    kamailio: KamailioServer,
    number: str,
    calls: int,
    in_flight: int,
    run_dir: Path,
    *extra: str,
    peer_port: int | None = None,
) -> None:
    argv = [
        *_caller(kamailio, number, peer_port),
        *("-m", str(calls), "-l", str(in_flight), "-r", "5000", "-timeout", "120s"),
        *extra,
    ]
    subprocess.run(
        argv,
        check=False,
        timeout=180,
        cwd=run_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _setup_times_ms(message_log: Path, invite_cseq: str) -> list[float]:
    """INVITE sent (the authenticated one of a phone) -> its 200 OK
    received, per call."""
    sent: dict[str, datetime] = {}
    setup = []
    for m in parse_message_log(message_log.read_text(errors="replace")):
        call_id, cseq = m.header("Call-ID"), m.header("CSeq")
        if m.at is None or call_id is None or cseq != invite_cseq:
            continue
        if m.direction == "sent" and m.method == "INVITE":
            sent[call_id] = m.at
        elif m.direction == "received" and m.status == 200 and call_id in sent:
            setup.append((m.at - sent.pop(call_id)).total_seconds() * 1000)
    return setup


def final_stats(stat_csv: Path) -> dict[str, str]:
    """The last line of sipp's statistics file (its totals at the end)."""
    with stat_csv.open() as f:
        return list(csv.DictReader(f, delimiter=";"))[-1]


def completed(stat_csv: Path) -> tuple[int, int]:
    """Calls that succeeded and failed, from sipp's statistics file."""
    last = final_stats(stat_csv)
    return int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])


def load_run(
    kamailio: KamailioServer,
    number: str,
    calls: int,
    in_flight: int,
    work: Path,
    mode: str,
    peer_port: int | None = None,
) -> EdgeRun:
    """Throughput with ``in_flight`` calls at once, then setup times of calls
    one at a time (logging every message would slow the load); from the
    desk phone hd3001, or from the trunk at ``peer_port``."""
    run_dir = work / mode.replace(" ", "-")
    run_dir.mkdir()
    started = time.monotonic()
    stats = ("-trace_stat", "-stf", str(run_dir / "stat.csv"), "-fd", "1")
    call_load(kamailio, number, calls, in_flight, run_dir, *stats, peer_port=peer_port)
    seconds = time.monotonic() - started
    ok, failed = completed(run_dir / "stat.csv")
    log = run_dir / "messages.log"
    trace = ("-trace_msg", "-message_file", str(log))
    call_load(kamailio, number, SETUP_SAMPLES, 1, run_dir, *trace, peer_port=peer_port)
    return EdgeRun(
        mode,
        ok,
        failed,
        seconds,
        _setup_times_ms(log, "2 INVITE" if peer_port is None else "1 INVITE"),
    )


@contextlib.contextmanager
def alice_calls_bob() -> Iterator[tuple[Stack, int]]:
    """The stack with Alice logged in at hd3001 and Bob at hd3002, and Bob's
    answering phone (any number of calls at once) on the port yielded."""
    with stack() as st:
        answer_port = free_udp_port()
        answering = answering_phone(answer_port, "-l", "10000")
        try:
            st.login("hd3001", "1001")
            st.login("hd3002", "1002")
            yield st, answer_port
        finally:
            answering.kill()


def measure(calls: int, in_flight: int) -> list[EdgeRun]:
    runs = []
    with alice_calls_bob() as (st, answer_port):
        # Side by side, alternating: plain, hot-desk (desk to desk, then a
        # trunk calling Bob's DID), plain, hot-desk.
        for round_no in range(2):
            for hotdesk in (False, True):
                kamailio = st.edge(f"kamailio-{round_no}-{hotdesk}", hotdesk)
                kamailio.start()
                try:
                    register(kamailio, "hd3002", answer_port)
                    if not hotdesk:
                        # The phone calls the device directly.
                        mode = f"plain (lookup off)#{round_no}"
                        runs.append(load_run(kamailio, "hd3002", calls, in_flight, st.work, mode))
                        continue
                    kamailio.wait_for_peer_reload()
                    # Alice (hd3001) calls Bob's extension ...
                    mode = f"{DESK_TO_DESK}#{round_no}"
                    runs.append(load_run(kamailio, "1002", calls, in_flight, st.work, mode))
                    # ... and the trunk calls Bob's number.
                    mode = f"{INBOUND}#{round_no}"
                    runs.append(
                        load_run(kamailio, BOB_DID, calls, in_flight, st.work, mode, st.peer_port)
                    )
                finally:
                    kamailio.stop()
    return runs


def _arrivals(log: Path) -> list[tuple[str, datetime]]:
    """(Call-ID, when) of every INVITE a phone received."""
    return [
        (m.header("Call-ID") or "", m.at)
        for m in parse_message_log(log.read_text(errors="replace"))
        if m.direction == "received" and m.method == "INVITE" and m.at is not None
    ]


def measure_login_to_route(iterations: int) -> LoginToRoute:
    """Bob moves between hd3002 and hd3003; right after each login is
    accepted, hd3001 calls 1002. Measured: login accepted -> that INVITE
    arriving at the desk Bob just logged in at (the calling sipp's start-up
    is inside that figure), and the edge's part: INVITE sent -> arrival."""
    with stack() as st:
        kamailio = st.edge("kamailio")
        kamailio.start()
        phones: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        try:
            for device in ("hd3002", "hd3003"):
                port, log = free_udp_port(), st.work / f"{device}.log"
                phones[device] = (
                    answering_phone(port, "-trace_msg", "-message_file", str(log)),
                    log,
                )
                register(kamailio, device, port)
            st.login("hd3001", "1001")
            expected: dict[str, tuple[str, datetime]] = {}  # Call-ID -> (desk, login time)
            sent: dict[str, datetime] = {}
            for i in range(iterations):
                desk = ("hd3002", "hd3003")[i % 2]
                st.login(desk, "1002")
                accepted = datetime.now()
                log = st.work / f"caller-{i}.log"
                subprocess.run(
                    caller_argv(
                        kamailio.sip_port,
                        SCENARIOS / "call.xml",
                        "1002",
                        "-m",
                        "1",
                        "-key",
                        "extra_header",
                        "X-Bench: 1",
                        "-timeout",
                        "10s",
                        "-trace_msg",
                        "-message_file",
                        str(log),
                    ),
                    cwd=st.work,
                    check=False,
                    timeout=20,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for m in parse_message_log(log.read_text(errors="replace")):
                    if m.direction == "sent" and m.header("CSeq") == "2 INVITE" and m.at:
                        call_id = m.header("Call-ID") or ""
                        sent[call_id] = m.at
                        expected[call_id] = (desk, accepted)
        finally:
            kamailio.stop()
            for proc, _ in phones.values():
                proc.kill()
                proc.wait()
        samples, edge_part, wrong = [], [], 0
        for device, (_, log) in phones.items():
            for call_id, at in _arrivals(log):
                desk, accepted = expected[call_id]
                if desk != device:
                    wrong += 1
                    continue
                samples.append((at - accepted).total_seconds() * 1000)
                edge_part.append((at - sent[call_id]).total_seconds() * 1000)
        return LoginToRoute(samples, edge_part, wrong)
