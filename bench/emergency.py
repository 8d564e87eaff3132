"""Emergency calls with the desk's location against the same calls without
one, side by side in one run: what carrying a PIDF-LO (the lookup's
location, the multipart body built per branch) adds to call set-up.

The desk phone hd3001 dials 112 through the hot-desk edge; the demo's
emergency gateway is a sipp answering peer. "Without" is the same
directory with every location removed, imported between the rounds. A few
calls per thousand fail in both modes: the gateway's 180 and 200 are
relayed by two Kamailio workers at once and may arrive swapped, and the
scenario aborts on a 180 after the 200 (phones ignore it).
"""

import time

import yaml

from bench.edge_calls import EdgeRun, Stack, answering_phone, load_run, stack
from tests.support.demo import Gateways, demo_directory_text, import_directory_text
from tests.support.kamailio import free_udp_port

WITH, WITHOUT = "112 with location", "112 without location"


def directory(gateways: Gateways, locations: bool) -> str:
    """The demo directory at ``gateways``, without on-site notifications
    (their cost is not the location's), and with or without every tenant,
    site and desk location."""
    doc = yaml.safe_load(demo_directory_text(gateways))
    for tenant in doc["tenants"]:
        tenant.pop("emergency_notify", None)
        if not locations:
            tenant.pop("location", None)
            tenant.pop("sites", None)
    for device in doc["devices"]:
        if not locations:
            device.pop("location", None)
            device.pop("site", None)
    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def _import(st: Stack, text: str) -> None:
    version = import_directory_text(st.redis.url, text)
    deadline = time.monotonic() + 10
    while st.binding.metrics()["hotdesk_directory_version"] < version:
        if time.monotonic() > deadline:
            raise RuntimeError("the binding service did not reload the directory")
        time.sleep(0.1)


def measure(calls: int, in_flight: int) -> list[EdgeRun]:
    gateway_port = free_udp_port()
    runs = []
    with stack(emergency_port=gateway_port) as st:
        gateways = Gateways(gateway_port, 9, st.peer_port)
        texts = {WITH: directory(gateways, True), WITHOUT: directory(gateways, False)}
        gateway = answering_phone(gateway_port, "-l", "10000")
        kamailio = st.edge("kamailio-emergency")
        kamailio.start()
        try:
            kamailio.wait_for_peer_reload()
            for round_no in range(2):
                for mode, text in texts.items():
                    _import(st, text)
                    runs.append(
                        load_run(kamailio, "112", calls, in_flight, st.work, f"{mode}#{round_no}")
                    )
        finally:
            kamailio.stop()
            gateway.kill()
    return runs
