"""The resync consumer across restarts, through the real edge: every change
is pushed (nothing missed) and no device is told twice, whether the provision
service stops cleanly (SIGTERM) or is killed (SIGKILL) halfway through a
paced wave of pushes."""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import binding_pb2_grpc

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from services.kernel.redis_conn import connect
from tests.edge.conftest import PUSH_FROM, PUSH_HOST
from tests.support.binding_process import BindingProcess
from tests.support.fleet import NotifiedPhones, fleet_directory, fleet_ids, register_fleet
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.redis_server import RedisServer
from tests.support.service_process import ServiceProcess

DEVICES = 24
RATE = 8  # pushes per second: a wave of 24 takes 3 s


@dataclass
class Fleet:
    redis: RedisServer
    binding: BindingProcess
    kamailio: KamailioServer
    provision: ServiceProcess
    phones: NotifiedPhones

    def binding_stub(self) -> binding_pb2_grpc.BindingServiceStub:
        return binding_pb2_grpc.BindingServiceStub(grpc.insecure_channel(self.binding.grpc_address))


def import_fleet(redis_url: str) -> None:
    async def run() -> None:
        redis = connect(redis_url)
        directory = parse_directory(fleet_directory(DEVICES), "fleet.yaml")
        await DirectoryImporter(redis, PinHasher(1, 8, 1)).apply(directory)
        await redis.aclose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root: Path = tmp_path_factory.mktemp("fleet")
    redis = RedisServer(root / "redis")
    redis.start()
    import_fleet(redis.url)
    binding = BindingProcess(redis.url, root / "binding.log")
    binding.start()
    kamailio = KamailioServer(
        root / "kamailio",
        redis_port=redis.port,
        binding_url=binding.route_url,
        emergency_gw=f"sip:127.0.0.1:{free_udp_port()}",
        pstn_gw=f"sip:127.0.0.1:{free_udp_port()}",
        push_from=PUSH_FROM,
    )
    kamailio.start()
    provision = ServiceProcess(
        "provision",
        redis.url,
        root / "provision.log",
        ("grpc", "http"),
        {
            "HOTDESK_PROVISION_BINDING_ADDRESS": binding.grpc_address,
            "HOTDESK_PROVISION_PUSH_EDGE_PORT": str(kamailio.sip_port),
            "HOTDESK_PROVISION_PUSH_BIND_HOST": PUSH_HOST,
            "HOTDESK_PROVISION_PUSH_RATE_PER_SECOND": str(RATE),
            "HOTDESK_PROVISION_PUSH_BURST": "1",
            "HOTDESK_PROVISION_CONSUMER_NAME": "provision-0",
        },
    )
    with NotifiedPhones() as phones:
        register_fleet(kamailio.sip_port, DEVICES, phones.port, root)
        provision.start()
        try:
            yield Fleet(redis, binding, kamailio, provision, phones)
        finally:
            provision.stop()
            kamailio.stop()
            binding.stop()
            redis.kill()


def wave(fleet: Fleet, *, login: bool) -> None:
    stub = fleet.binding_stub()
    for device, ext in fleet_ids(DEVICES):
        if login:
            r = stub.Login(
                bpb.LoginRequest(
                    device_id=device,
                    user=bpb.UserRef(tenant="acme", extension=ext),
                    actor="test",
                )
            )
            assert r.result == bpb.LOGIN_RESULT_LOGGED_IN
        else:
            stub.Logout(bpb.LogoutRequest(device_id=device, actor="test"))


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
