"""The resync consumer across restarts, through the real edge: every change
is pushed (nothing missed) and no device is told twice, whether the provision
service stops cleanly (SIGTERM) or is killed (SIGKILL) halfway through a
paced wave of pushes, and when one of two members of the consumer group is
killed and the other takes over its unfinished entries."""

import time
from collections.abc import Iterator

import pytest
import redis

from services.kernel import keys
from services.provision.resync import CONSUMER_GROUP
from tests.support.fleet import Fleet, fleet_ids, fleet_stack

DEVICES = 24
RATE = 8  # pushes per second: a wave of 24 takes 3 s


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    settings = {
        "HOTDESK_PROVISION_PUSH_RATE_PER_SECOND": str(RATE),
        "HOTDESK_PROVISION_PUSH_BURST": "1",
    }
    with fleet_stack(tmp_path_factory.mktemp("fleet"), DEVICES, settings) as f:
        yield f


@pytest.fixture(scope="module")
def fleet_of_two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Two provision processes in the consumer group; entries a dead one
    left are claimed after 2 s."""
    settings = {
        "HOTDESK_PROVISION_PUSH_RATE_PER_SECOND": str(RATE),
        "HOTDESK_PROVISION_PUSH_BURST": "1",
        "HOTDESK_PROVISION_CONSUMER_CLAIM_IDLE_SECONDS": "2",
    }
    with fleet_stack(tmp_path_factory.mktemp("fleet2"), DEVICES, settings, members=2) as f:
        yield f


def wave(fleet: Fleet, *, login: bool) -> None:
    for device, ext in fleet_ids(DEVICES):
        if login:
            fleet.login(device, ext)
        else:
            fleet.logout(device)


def wait_for_pushes(fleet: Fleet, total: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while len(fleet.phones.received) < total:
        counts = fleet.phones.counts()
        short = sorted(d for d, _ in fleet_ids(DEVICES) if counts[d] < total // DEVICES)
        assert time.monotonic() < deadline, (
            f"{len(fleet.phones.received)} of {total} NOTIFYs arrived; short: {short}"
        )
        time.sleep(0.05)
    time.sleep(1.0)  # anything doubled would arrive now


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_a_restart_halfway_neither_misses_nor_repeats_a_push(fleet: Fleet, stop: str) -> None:
    before = len(fleet.phones.received)
    rounds = before // DEVICES + 1
    wave(fleet, login=rounds % 2 == 1)
    # Paced at RATE/s: stop when about a third has gone out.
    deadline = time.monotonic() + 10
    while len(fleet.phones.received) < before + DEVICES // 3:
        assert time.monotonic() < deadline, "pushes did not start"
        time.sleep(0.02)
    if stop == "SIGTERM":
        fleet.provision.stop()
    else:
        fleet.provision.kill()
    halfway = len(fleet.phones.received) - before
    assert 0 < halfway < DEVICES
    fleet.provision.start()
    wait_for_pushes(fleet, rounds * DEVICES)
    counts = fleet.phones.counts()
    assert {device: counts[device] for device, _ in fleet_ids(DEVICES)} == {
        device: rounds for device, _ in fleet_ids(DEVICES)
    }


def pending_by_member(fleet: Fleet) -> dict[str, int]:
    """Entries each consumer group member has read and not finished."""
    with redis.Redis.from_url(fleet.redis.url, decode_responses=True) as client:
        summary = client.xpending(keys.events("acme"), CONSUMER_GROUP)
    return {c["name"]: int(c["pending"]) for c in summary["consumers"]}


def test_one_member_killed_halfway_the_other_finishes_the_wave(fleet_of_two: Fleet) -> None:
    fleet = fleet_of_two
    members = {"provision-0": fleet.provision, "provision-1": fleet.more_provisions[0]}
    wave(fleet, login=True)
    deadline = time.monotonic() + 10
    while len(fleet.phones.received) < DEVICES // 3:
        assert time.monotonic() < deadline, "pushes did not start"
        time.sleep(0.02)
    # The member holding unfinished entries dies; the other claims them.
    pending = pending_by_member(fleet)
    victim = max(pending, key=lambda name: pending[name])
    assert pending[victim] > 0, pending
    members[victim].kill()
    (survivor,) = (p for name, p in members.items() if name != victim)
    assert len(fleet.phones.received) < DEVICES
    wait_for_pushes(fleet, DEVICES, within=30)
    counts = fleet.phones.counts()
    assert {device: counts[device] for device, _ in fleet_ids(DEVICES)} == {
        device: 1 for device, _ in fleet_ids(DEVICES)
    }
    delivered = survivor.metrics().get('hotdesk_provision_pushes_total{result="delivered"}', 0)
    assert delivered >= pending[victim], (delivered, pending)
