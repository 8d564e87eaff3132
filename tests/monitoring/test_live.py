"""The dashboards against a real Prometheus scraping the real edge: the
services, the provision service and Kamailio run, traffic goes through them
(registrations, calls, logins, a takeover, a wrong PIN to a lockout in the
voice menu, phone file fetches), and then every panel query returns data
and every metric selector in the panels matches a real series."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc, provision_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import provision_pb2 as ppb

from services.monitoring.panels import Target, committed, resolved
from tests.support import pki
from tests.support.dashboards import selectors
from tests.support.edge import Edge, edge_stack
from tests.support.menu_calls import scenario
from tests.support.ports import free_media_port
from tests.support.prometheus import PrometheusServer
from tests.support.provision import (
    YEALINK_T54W_UA,
    phone_session,
    screen_post,
    screen_url_at,
)
from tests.support.service_process import ServiceProcess

MODELS = committed()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """Prometheus over the whole edge, after two rounds of traffic (two, so
    that counters and histograms a first use creates have moved too)."""
    root = tmp_path_factory.mktemp("monitored")
    # Two wrong PINs lock a user out on a desk (the voice menu's one call).
    lockout = {"HOTDESK_AUTH_FREE_ATTEMPTS": "2", "HOTDESK_AUTH_LOCK_AFTER": "2"}
    with edge_stack(root, lockout) as edge:
        provision = edge.provision(root / "provision.log", "monitored")
        provision.start()
        services = {"binding": edge.binding, "auth": edge.auth, "menu": edge.menu}
        scraped = {name: [f"127.0.0.1:{s.ports['ops']}"] for name, s in services.items()}
        server = PrometheusServer(
            root / "prometheus",
            scraped
            | {
                "provision": [f"127.0.0.1:{provision.ports['ops']}"],
                "kamailio": [f"127.0.0.1:{edge.kamailio.http_port}"],
            },
        )
        server.start()
        try:
            server.wait_for_targets()
            for round_ in (1, 2):
                traffic(edge, provision, root / f"round{round_}", round_)
                time.sleep(3)  # a few scrapes between the rounds
            yield server
        finally:
            server.stop()
            provision.stop()


def traffic(edge: Edge, provision: ServiceProcess, folder: Path, round_: int) -> None:
    folder.mkdir()
    edge.logout_all()  # sessions end (logout)
    edge.login("hd3001", "1001")
    edge.login("hd3002", "1002")
    # A registration and a call from Alice's desk to Bob's, answered.
    phone = edge.phone(f"bob-{round_}", "hd3002")
    call = edge.call(f"alice-to-bob-{round_}", "hd3001", "1002")
    assert call.run() == 0, call.messages
    assert call.final_status() == 200
    assert phone.wait() == 0
    # Carol takes Bob's desk over.
    assert edge.login("hd3002", "1003", takeover=True).ended
    # The phone fetches its file (provisioning lag: the login -> this fetch),
    # the provision service reports the push, and Alice's session location
    # is cleared.
    fetch(provision, "hd3001", "001565aa3001.cfg")
    provision_stub = provision_pb2_grpc.ProvisionServiceStub(pki.channel(provision.grpc_address))
    provision_stub.GetDeviceProvisioning(ppb.DeviceProvisioningRequest(device_id="hd3001"))
    edge.stub().SetSessionLocation(pb.SetSessionLocationRequest(device_id="hd3001", actor="t"))
    # Wrong PINs in the voice menu until the user is locked out, then an
    # operator unlocks her.
    steps = ["dtmf:1003#", "dtmf:1234#"] * 2
    menu_call = edge.from_phone(
        f"wrong-pin-{round_}",
        "hd3003",
        scenario(steps, folder),
        "*45",
        timeout_s=40,
        media_port=free_media_port(),
    )
    assert menu_call.run() == 0, menu_call.messages
    assert edge.menu_calls()[-1]["outcome"] == "locked"
    stub = auth_pb2_grpc.AuthServiceStub(pki.channel(edge.auth.grpc_address))
    stub.Unlock(apb.UnlockRequest(user=pb.UserRef(tenant="acme", extension="1003"), actor="t"))
    # Carol logs in at hd3003 on its screen after all.
    asyncio.run(screen_login(provision, "1003", "5173"))


def fetch(provision: ServiceProcess, device: str, path: str) -> None:
    async def get() -> None:
        url = f"http://127.0.0.1:{provision.ports['http']}/{path}"
        async with phone_session(YEALINK_T54W_UA, device) as session, session.get(url) as r:
            assert r.status == 200, await r.text()

    asyncio.run(get())


async def screen_login(provision: ServiceProcess, ext: str, pin: str) -> None:
    login = await screen_url_at(f"http://127.0.0.1:{provision.ports['http']}", "login")
    status, _ = await screen_post(login, ext=ext, pin=pin)
    assert status == 200


def every_target(server: PrometheusServer) -> Iterator[tuple[Target, str]]:
    """Every panel target of every dashboard, with ``$instance`` set to all
    the instances its variable lists and ``$__rate_interval`` to 10 s."""
    for target, expr in resolved(server, MODELS):
        assert expr, f"{target.dashboard}: $instance lists nothing"
        yield target, expr


def test_every_panel_query_returns_data(prometheus: PrometheusServer) -> None:
    pending = dict(every_target(prometheus))
    deadline = time.monotonic() + 15  # the last scrapes may still be on their way
    while pending := {t: e for t, e in pending.items() if not prometheus.range_values(e, 90)}:
        assert time.monotonic() < deadline, "no data:\n" + "\n".join(map(str, pending))
        time.sleep(1)


def test_every_metric_selector_matches_a_series(prometheus: PrometheusServer) -> None:
    unmatched = [
        f"{target}: {selector}"
        for target, expr in every_target(prometheus)
        for selector in selectors(expr)
        if not prometheus.series(selector)
    ]
    assert not unmatched, "\n".join(unmatched)
    # A name written from memory would not match (xhttp_prom adds no _total).
    assert not prometheus.series("kamailio_core_rcv_requests_total")


def test_the_rules_load_and_evaluate_against_the_live_series(
    prometheus: PrometheusServer,
) -> None:
    """The rule files the local Prometheus loads (the same as the
    PrometheusRule): every alert and recording rule evaluates without error,
    and every recording rule yields data from the live edge."""
    deadline = time.monotonic() + 15  # rules evaluate every second
    while True:
        rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        unhealthy = [f"{r['name']}: {r.get('lastError')}" for r in rules if r["health"] != "ok"]
        if rules and not unhealthy:
            break
        assert time.monotonic() < deadline, "\n".join(unhealthy) or "no rules loaded"
        time.sleep(1)
    alerts = {r["name"] for r in rules if r["type"] == "alerting"}
    assert {"HotdeskLookupsFailing", "HotdeskNoBinding", "HotdeskNoKamailio"} <= alerts
    # The edge is healthy: nothing about lookups or instances fires.
    firing = {r["name"] for r in rules if r["type"] == "alerting" and r["state"] == "firing"}
    assert not firing & {"HotdeskLookupsFailing", "HotdeskNoBinding", "HotdeskNoKamailio"}
