"""Provisioning end to end: a login makes the phone's registered contact
receive a check-sync NOTIFY through the real Kamailio; the phone then
fetches a file that shows the user; a logout brings the idle file back."""

import asyncio
import time
from collections.abc import Iterator

import pytest
from hotdesk.v1 import provision_pb2 as pb
from hotdesk.v1 import provision_pb2_grpc

from services.provision.notify import CheckSyncNotifier
from tests.support import pki
from tests.support.demo import demo_directory_text, secret
from tests.support.edge import Edge
from tests.support.fleet import PUSH_HOST
from tests.support.kamailio import free_udp_port
from tests.support.phone_files import yealink_values
from tests.support.provision import YEALINK_T54W_UA, phone_session
from tests.support.service_process import ServiceProcess
from tests.support.sipp import Sipp
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def provision(edge: Edge) -> Iterator[ServiceProcess]:
    service = edge.provision(edge.logs.parent / "provision.log", "edge-test")
    service.start()
    yield service
    service.stop()


def fetch(service: ServiceProcess, device: str, path: str, user_agent: str) -> dict[str, str]:
    async def get() -> str:
        url = f"http://127.0.0.1:{service.ports['http']}/{path}"
        async with phone_session(user_agent, device) as session, session.get(url) as r:
            assert r.status == 200, await r.text()
            return await r.text()

    return yealink_values(asyncio.run(get()))


def notified_phone(edge: Edge, name: str, device: str) -> Sipp:
    """A phone whose registered contact takes one NOTIFY."""
    port = free_udp_port()
    phone = Sipp("notify_uas", None, edge.logs, name=name, local_port=port).start()
    registration = edge.register(f"{name}-register", device, contact_port=port)
    assert registration.run() == 0 and registration.final_status() == 200
    return phone


def provisioning(service: ServiceProcess, device: str) -> pb.DeviceProvisioning:
    stub = provision_pb2_grpc.ProvisionServiceStub(pki.channel(service.grpc_address))
    r = stub.GetDeviceProvisioning(pb.DeviceProvisioningRequest(device_id=device))
    return r.devices[0]


def test_login_pushes_check_sync_and_the_phone_fetches_the_user(
    fresh_edge: Edge, provision: ServiceProcess
) -> None:
    phone = notified_phone(fresh_edge, "hd3001-notify-login", "hd3001")
    fresh_edge.login("hd3001", "1001")
    assert phone.wait(timeout=15) == 0, phone.messages
    (notify,) = phone.received("NOTIFY")
    assert notify.header("Event") == "check-sync;reboot=false"
    assert notify.header("To") == "<sip:hd3001@hotdesk.local>"
    assert provisioning(provision, "hd3001").pushed_generation >= 1
    wait_for(
        lambda: provisioning(provision, "hd3001").push_result == pb.PUSH_RESULT_DELIVERED,
        "delivered push",
    )
    assert not provisioning(provision, "hd3001").provisioned  # pending until it fetches

    cfg = fetch(provision, "hd3001", "001565aa3001.cfg", YEALINK_T54W_UA)
    assert cfg["account.1.label"] == "1001 Alice Example"
    assert cfg["account.1.display_name"] == "Alice Example"
    # A Yealink's Logout key dials the logout code (its XML browser cannot
    # post a PIN, so it gets no phone-screen pages).
    assert (cfg["linekey.1.type"], cfg["linekey.1.label"]) == ("13", "Logout")
    assert cfg["linekey.1.value"] == "*46"
    assert (cfg["linekey.2.type"], cfg["linekey.2.value"]) == ("16", "1001")
    assert provisioning(provision, "hd3001").provisioned
    metrics = provision.metrics()
    assert metrics['hotdesk_provision_pushes_total{result="delivered"}'] >= 1
    assert metrics["hotdesk_provision_lag_seconds_count"] >= 1  # change -> matching fetch

    phone = notified_phone(fresh_edge, "hd3001-notify-logout", "hd3001")
    fresh_edge.logout_all()
    assert phone.wait(timeout=15) == 0, phone.messages
    idle = fetch(provision, "hd3001", "001565aa3001.cfg", YEALINK_T54W_UA)
    assert idle["account.1.label"] == "HD hd3001"
    assert (idle["linekey.1.type"], idle["linekey.1.label"], idle["linekey.1.value"]) == (
        "13",
        "Login",
        "*45",
    )
    assert idle["linekey.2.type"] == "0"
    assert "Alice" not in " ".join(idle.values())


def test_unregistered_device_push_is_answered_not_registered(
    fresh_edge: Edge, provision: ServiceProcess
) -> None:
    fresh_edge.login("hd3003", "1003")  # nobody registered as hd3003 here
    wait_for(
        lambda: provisioning(provision, "hd3003").push_result == pb.PUSH_RESULT_NOT_REGISTERED,
        "not-registered answer",
    )


@pytest.mark.parametrize(
    ("socket", "source", "trusted"),
    [
        ("push", PUSH_HOST, True),
        ("push", "127.0.0.1", False),  # the push socket, from outside HD_PUSH_FROM
        ("sip", PUSH_HOST, False),  # the phones' socket: challenged like any request
    ],
)
def test_only_the_push_network_on_the_push_socket_may_make_a_phone_resync(
    fresh_edge: Edge, socket: str, source: str, trusted: bool
) -> None:
    phone = notified_phone(fresh_edge, f"hd3002-notify-{socket}-{source}", "hd3002")
    port = fresh_edge.kamailio.push_port if socket == "push" else fresh_edge.kamailio.sip_port

    async def push() -> str:
        notifier = CheckSyncNotifier(
            edge=("127.0.0.1", port),
            bind_host=source,
            timeout=2.0,
            max_in_flight=1,
        )
        await notifier.start()
        try:
            sent = await notifier.send("hd3002", "hotdesk.local", "check-sync;reboot=false")
            return await sent.outcome()
        finally:
            await notifier.close()

    outcome = asyncio.run(push())
    if trusted:
        assert outcome == "delivered"
        assert phone.wait(timeout=5) == 0
    else:
        assert outcome == "rejected"  # never relayed
        time.sleep(0.5)
        phone.stop()
        assert phone.received("NOTIFY") == []


def test_a_changed_sip_secret_makes_the_phone_fetch_its_new_file(
    fresh_edge: Edge, provision: ServiceProcess
) -> None:
    """An import that changes hd3001's secret pushes a check-sync to its
    registered phone, which fetches (with the secret it knows) the file
    that carries the new one."""
    rotated = demo_directory_text(fresh_edge.gateways).replace(secret("hd3001"), "rotated-hd3001")
    phone = notified_phone(fresh_edge, "hd3001-secret-change", "hd3001")
    try:
        fresh_edge.import_directory(rotated)
        assert phone.wait(timeout=15) == 0, phone.messages
        values = fetch(provision, "hd3001", "001565aa3001.cfg", YEALINK_T54W_UA)
        assert values["account.1.password"] == "rotated-hd3001"
    finally:
        phone.stop()
        fresh_edge.import_directory(demo_directory_text(fresh_edge.gateways))
