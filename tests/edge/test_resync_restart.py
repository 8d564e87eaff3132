"""The resync consumer across restarts, through the real edge: every change
is pushed (nothing missed) and no device is told twice, whether the provision
service stops cleanly (SIGTERM) or is killed (SIGKILL) halfway through a
paced wave of pushes."""

import time
from collections.abc import Iterator

import pytest

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
