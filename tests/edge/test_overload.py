"""Overload: a node whose shared memory is low refuses new calls with 503
and Retry-After instead of running out, but still takes registrations,
emergency calls and the emergency service's callbacks. Shared memory
counts as low here because the node keeps a reserve larger than all of it
(``HD_SHM_RESERVE_PERCENT`` 101)."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edge.test_emergency import CALLBACK_NUMBER, called_back, location_of
from tests.support.demo import DOMAIN, secret
from tests.support.edge import Edge
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.sipp import SCENARIOS
from tests.support.waiting import wait_for

# Little shared memory, half of it reserved: a burst of calls at any rate
# this machine reaches fills the rest (a call holds ~25 KB until ~5 s after
# its BYE), and the reserve holds what the burst brings in the second the
# node may take to see it (Kamailio refreshes the figure once a second).
SMALL_SHM_MB = 32
SMALL_RESERVE_PERCENT = 50
BURST_CALLS = 3000


@pytest.fixture
def low_memory_node(fresh_edge: Edge, tmp_path: Path) -> Iterator[KamailioServer]:
    with fresh_edge.running_kamailio(
        tmp_path / "kamailio", limits={"HD_SHM_RESERVE_PERCENT": 101}
    ) as node:
        yield node


def test_a_new_call_is_refused_with_retry_after(
    fresh_edge: Edge, low_memory_node: KamailioServer
) -> None:
    node = low_memory_node
    before = node.counter("hotdesk_overload_refused_total")
    call = fresh_edge.from_phone(
        "overloaded-call", "hd3001", "call", "1002", keys={"extra_header": "X-Test: none"}, via=node
    )
    call.run()
    assert call.final_status() == 503
    # Refused statelessly, each INVITE the phone (re)sent, before the
    # digest: nothing was asked of the phone.
    refusals = call.received(503)
    invites = [m for m in call.messages if m.direction == "sent" and m.method == "INVITE"]
    assert refusals and all(r.header("Retry-After") == "5" for r in refusals)
    assert not call.received(407)
    assert node.counter("hotdesk_overload_refused_total") == before + len(invites)
    # The name the HotdeskEdgeOverloaded alert reads.
    assert "\nkamailio_script_hotdesk_overload_refused_total " in node.metrics()
    assert "overload:" in node.log and "new INVITE refused (503)" in node.log
    # The same call through a node with memory to spare goes through.
    assert fresh_edge.kamailio.counter("hotdesk_overload_refused_total") == 0


def test_registrations_and_emergency_calls_still_pass(
    fresh_edge: Edge, low_memory_node: KamailioServer
) -> None:
    node = low_memory_node
    registered = fresh_edge.register(
        "overloaded-register", "hd3002", contact_port=free_udp_port(), via=node
    )
    assert registered.run() == 0 and registered.final_status() == 200
    call = fresh_edge.from_phone(
        "overloaded-112", "hd3001", "call", "112", keys={"extra_header": "X-Test: none"}, via=node
    )
    invite = fresh_edge.arrival("overloaded-112-gw", fresh_edge.emergency_port, call)
    assert invite.header("P-Asserted-Identity") == f"<sip:{CALLBACK_NUMBER}@{DOMAIN}>"
    assert location_of(invite)["ROOM"] == "3.14"
    assert node.counter("hotdesk_overload_refused_total") == 0


def test_a_callback_to_a_desk_that_called_112_still_rings(
    fresh_edge: Edge, low_memory_node: KamailioServer
) -> None:
    """The callback number's desk registered at this node and called 112
    through it; then the emergency service calls back through it."""
    node = low_memory_node
    desk = fresh_edge.phone("overloaded-desk", "hd3001", via=node)
    try:
        emergency = fresh_edge.from_phone(
            "overloaded-cb-112",
            "hd3001",
            "call",
            "112",
            keys={"extra_header": "X-Test: none"},
            via=node,
        )
        fresh_edge.arrival("overloaded-cb-112-gw", fresh_edge.emergency_port, emergency)
    except BaseException:
        desk.stop()
        raise
    called_back(fresh_edge, desk, "overloaded-psap-calls-back", via=node)
    assert node.counter("hotdesk_emergency_callbacks_total") == 1
    assert node.counter("hotdesk_overload_refused_total") == 0


def test_more_calls_than_memory_holds_are_refused_and_the_node_stays_up(
    fresh_edge: Edge, tmp_path: Path
) -> None:
    """A node with little shared memory (plain routing, no lookup) under a
    burst of calls that would need several times more: the excess is
    refused, nothing runs out, and once the burst's transactions are gone
    a call goes through again. Bounded: at most BURST_CALLS calls, each
    answered at once."""
    with fresh_edge.running_kamailio(
        tmp_path / "small",
        hotdesk=False,
        shm_mb=SMALL_SHM_MB,
        limits={"HD_SHM_RESERVE_PERCENT": SMALL_RESERVE_PERCENT},
    ) as node:
        port = free_udp_port()
        answer = ["-sf", str(SCENARIOS / "answer.xml"), "-i", "127.0.0.1", "-p", str(port)]
        answering = subprocess.Popen(
            ["sipp", *answer, "-nostdin"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            registered = fresh_edge.register(
                "small-register", "hd3002", contact_port=port, via=node
            )
            assert registered.run() == 0 and registered.final_status() == 200
            caller = [f"127.0.0.1:{node.sip_port}", "-sf", str(SCENARIOS / "call.xml")]
            keys = {"user": "hd3001", "domain": DOMAIN, "target_domain": DOMAIN}
            keys["extra_header"] = "X-Test: none"
            subprocess.run(
                ["sipp", *caller, "-i", "127.0.0.1", "-p", str(free_udp_port()), "-s", "hd3002"]
                + [arg for key, value in keys.items() for arg in ("-key", key, value)]
                + ["-au", "hd3001", "-ap", secret("hd3001"), "-d", "0", "-nostdin"]
                + ["-r", "300", "-m", str(BURST_CALLS), "-timeout", "60s"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=90,
                check=False,  # the refused calls fail
            )
            assert node.counter("hotdesk_overload_refused_total") > 0
            assert "out of mem" not in node.log and node.proc is not None
            assert node.proc.poll() is None
            reserve = node.gauge("shmem_total_size") * SMALL_RESERVE_PERCENT / 100
            wait_for(lambda: node.gauge("shmem_free_size") > reserve, "free memory", within=30)
            call = fresh_edge.from_phone(
                "after-the-burst",
                "hd3001",
                "call",
                "hd3002",
                keys={"extra_header": "X-Test: none"},
                via=node,
            )
            assert call.run() == 0 and call.final_status() == 200
        finally:
            answering.kill()
            answering.wait()
