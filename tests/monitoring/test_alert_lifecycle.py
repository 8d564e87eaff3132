"""HotdeskLookupsFailing against the running edge, with the rule file as
shipped: the binding service stops, calls through Kamailio get 503, the
alert goes pending, fires once its ``for:`` has passed, and resolves after
the service restarts and calls are routed again. The test takes the
alert's ``for:`` (2 minutes) plus about a minute; it prints the timeline."""

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.demo import NEVER_CACHED
from tests.support.edge import Edge, edge_stack
from tests.support.prometheus import PrometheusServer

ALERT = "HotdeskLookupsFailing"
RULES = Path(__file__).resolve().parents[2] / "deploy/monitoring/rules/hotdesk.rules.yml"
SLACK_S = 90  # beyond `for:`: scrapes, rule evaluations and a busy machine
BATCH = 20  # calls between two looks at the alert while it should resolve
FAILED_CALLS = 12
MAX_BATCHES = 30


def shipped_rule(name: str) -> dict[str, Any]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return next(r for g in groups for r in g["rules"] if r.get("alert") == name)


def seconds(duration: str) -> float:
    """A Prometheus duration of one unit ("2m", "90s")."""
    return float(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


@pytest.fixture
def monitored(tmp_path: Path) -> Iterator[tuple[Edge, PrometheusServer]]:
    with edge_stack(tmp_path / "edge") as edge:
        server = PrometheusServer(
            tmp_path / "prometheus",
            {
                "binding": [f"127.0.0.1:{edge.binding.ports['ops']}"],
                "kamailio": [f"127.0.0.1:{edge.kamailio.http_port}"],
            },
        )
        server.start()
        try:
            server.wait_for_targets()
            yield edge, server
        finally:
            server.stop()


def call_statuses(edge: Edge, label: str, count: int) -> list[int | None]:
    """Final statuses of ``count`` calls that each need a lookup (none is
    answered from Kamailio's route cache, whose calls are no lookups): an
    idle desk dials an extension nobody has, 403 while the lookup answers."""
    statuses = []
    for i in range(count):
        call = edge.call(f"{label}-{i}", "hd3003", NEVER_CACHED)
        call.run()
        statuses.append(call.final_status())
    return statuses


def alert_state(server: PrometheusServer) -> tuple[str, str | None]:
    """The alert rule's state and, while active, since when."""
    rules = [r for g in server.api("rules")["groups"] for r in g["rules"]]
    rule = next(r for r in rules if r["name"] == ALERT)
    active = rule.get("alerts") or [{}]
    return rule["state"], active[0].get("activeAt")


def wait_for_state(server: PrometheusServer, state: str, within: float) -> float:
    deadline = time.monotonic() + within
    while (now := alert_state(server))[0] != state:
        assert time.monotonic() < deadline, f"{ALERT} still {now[0]} after {within:.0f} s"
        time.sleep(1)
    return time.time()


@pytest.mark.waits
def test_lookups_failing_fires_when_binding_stops_and_resolves_after_restart(
    monitored: tuple[Edge, PrometheusServer], tmp_path: Path
) -> None:
    edge, server = monitored
    hold = seconds(shipped_rule(ALERT)["for"])
    before = call_statuses(edge, "before", BATCH)
    assert None not in before and 503 not in before, before
    assert alert_state(server)[0] == "inactive"

    edge.binding.stop()
    timeline = {"binding_stopped": time.time()}
    # More failed calls than the alert's least traffic (ten in 5 minutes).
    down = call_statuses(edge, "down", FAILED_CALLS)
    assert down == [503] * FAILED_CALLS, down
    timeline["pending"] = wait_for_state(server, "pending", within=SLACK_S)
    timeline["firing"] = wait_for_state(server, "firing", within=hold + SLACK_S)
    _, active_at = alert_state(server)
    assert active_at is not None
    # Prometheus's own record: active (pending) at least `for:` before firing.
    timeline["active_at"] = datetime.fromisoformat(active_at).timestamp()
    assert timeline["firing"] - timeline["active_at"] >= hold

    edge.binding.start()
    timeline["binding_restarted"] = time.time()
    server.wait_for_targets()
    # Calls are routed again; their lookups outweigh the failed ones in the
    # 5-minute ratio and the alert resolves.
    for batch in range(MAX_BATCHES):
        after = call_statuses(edge, f"after-{batch}", BATCH)
        assert None not in after and 503 not in after, after
        if alert_state(server)[0] == "inactive":
            break
        time.sleep(1)  # a scrape and an evaluation
    else:
        raise AssertionError(f"{ALERT} still active after {MAX_BATCHES * BATCH} routed calls")
    timeline["resolved"] = time.time()
    report = {k: time.strftime("%H:%M:%S", time.gmtime(v)) for k, v in timeline.items()}
    (tmp_path / "timeline.json").write_text(json.dumps(report))
    print(f"\n{ALERT} (for: {hold:.0f} s), UTC: {report}")
