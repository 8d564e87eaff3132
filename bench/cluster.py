"""Calls through three Kamailio nodes sharing registrations over DMQ
against one node, in the same run and with the same offered load: three
callers with ``in_flight`` calls each, one per node or all three at the one
node. The callee is registered at the first node, so calls entering at the
others take the hop to it (as for any phone: it is reached through the node
it registered with). And registrations held: a fleet registered at one
node, counted on every node once DMQ has replicated it.

All on one machine: the three nodes share its cores with the callers, the
binding service and Redis, so the ratio says what the hop and replication
cost, not what three machines would add (that is the per-node rate times
the nodes, bounded by the binding service and Redis: see README "Scaling
out").
"""

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.edge_calls import alice_calls_bob, call_load, completed, register
from tests.support.fleet import import_fleet, register_fleet
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.redis_server import RedisServer
from tests.support.udp_listener import UdpListener

THREE_NODES = "three nodes, a caller at each"
ONE_NODE = "one node, three callers at it"


@dataclass(frozen=True)
class ClusterRun:
    mode: str
    calls_ok: int
    calls_failed: int
    seconds: float

    @property
    def cps(self) -> float:
        return self.calls_ok / self.seconds


@dataclass(frozen=True)
class Replication:
    registered: int  # at the first node
    held: list[int]  # by each other node
    seconds: float  # from the last REGISTER answered until every node held them all


def _nodes(work: Path, redis: RedisServer, binding_url: str, n: int) -> list[KamailioServer]:
    ports = [free_udp_port() for _ in range(n)]
    return [
        KamailioServer(
            work / f"node-{i}",
            redis=redis,
            binding_url=binding_url,
            emergency_gw="sip:127.0.0.1:9",
            pstn_gw="sip:127.0.0.1:9",
            tls=False,
            dmq_port=port if n > 1 else None,
            dmq_peers=tuple(p for p in ports if p != port) if n > 1 else (),
        )
        for i, port in enumerate(ports)
    ]


@contextmanager
def _started(nodes: list[KamailioServer]) -> Iterator[list[KamailioServer]]:
    try:
        for node in nodes:
            node.start()
            node.wait_for_peer_reload()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def _parallel(
    entries: list[KamailioServer], calls: int, in_flight: int, work: Path, mode: str
) -> ClusterRun:
    """One caller per entry node, all at once."""
    dirs = []
    threads = []
    for i, node in enumerate(entries):
        run_dir = work / f"{mode.replace(' ', '-').replace(',', '')}-{i}"
        run_dir.mkdir()
        dirs.append(run_dir)
        stats = ("-trace_stat", "-stf", str(run_dir / "stat.csv"), "-fd", "1")
        threads.append(
            threading.Thread(
                target=call_load, args=(node, "1002", calls, in_flight, run_dir, *stats)
            )
        )
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    results = [completed(d / "stat.csv") for d in dirs]
    return ClusterRun(mode, sum(r[0] for r in results), sum(r[1] for r in results), seconds)


def measure_calls(calls: int, in_flight: int) -> list[ClusterRun]:
    runs = []
    with alice_calls_bob() as (st, answer_port):
        for round_no in range(2):
            for count in (1, 3):
                work = st.work / f"round-{round_no}-{count}"
                with _started(_nodes(work, st.redis, st.binding.route_url, count)) as nodes:
                    register(nodes[0], "hd3002", answer_port)
                    time.sleep(0.5)  # the registration reaches the other nodes
                    entries = nodes if count == 3 else nodes * 3
                    mode = THREE_NODES if count == 3 else ONE_NODE
                    runs.append(_parallel(entries, calls, in_flight, work, f"{mode}#{round_no}"))
    return runs


class _Answering(UdpListener):
    """The fleet's contact: nothing to answer (no calls)."""

    def handle(self, data: bytes, addr: tuple[str, int], at: float) -> None:
        return


def _registered(node: KamailioServer) -> int:
    out = node.rpc("stats.get_statistics", "registered_users")
    return int(out.rsplit("=", 1)[1].strip().strip('"').split()[0])


def measure_registrations(fleet: int) -> Replication:
    with tempfile.TemporaryDirectory(prefix="hotdesk-cluster-bench-") as tmp:
        work = Path(tmp)
        redis = RedisServer(work / "redis", fsync="everysec")
        redis.start()
        try:
            import_fleet(redis.url, fleet)
            nodes = _nodes(work, redis, "http://127.0.0.1:9/v1/route", 3)
            with _started(nodes), _Answering() as contact:
                register_fleet(nodes[0].sip_port, fleet, contact.port, work)
                registered = _registered(nodes[0])
                started = time.monotonic()
                deadline = started + 60
                held = [_registered(n) for n in nodes[1:]]
                while min(held) < registered and time.monotonic() < deadline:
                    time.sleep(0.1)
                    held = [_registered(n) for n in nodes[1:]]
                return Replication(registered, held, time.monotonic() - started)
        finally:
            redis.kill()
