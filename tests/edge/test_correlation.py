"""One call, followed through every component's logs by its SIP Call-ID:
Kamailio (its JSON log engine's ``callid``, or the line's text after the
lookup), the voice menu, the auth
service's PIN check (log and audit entry) and the binding service's login,
which the menu asked over gRPC (``x-correlation-id``)."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from services.kernel import keys
from tests.support.edge import Edge
from tests.support.kamailio import KamailioServer
from tests.support.menu_calls import scenario
from tests.support.sipp import parse_message_log

GROUP = "acme-group"


@pytest.fixture
def json_logging_node(fresh_edge: Edge, tmp_path: Path) -> Iterator[KamailioServer]:
    with fresh_edge.running_kamailio(
        tmp_path / "kamailio",
        tls=False,
        json_logs=True,
    ) as node:
        yield node


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def service_log(path: Path) -> list[dict[str, Any]]:
    """A service's log lines as entries, whether it logs JSON or text
    (``<date> <time> <LEVEL> <logger> <event> key=value ...``)."""
    entries = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
            continue
        words = line.split(" ")
        words = [w for w in words if w]
        if len(words) < 5:
            continue
        pairs = dict(w.split("=", 1) for w in words[5:] if "=" in w)
        entries.append({"event": words[4], **pairs})
    return entries


def test_a_login_by_voice_is_one_id_in_every_log(
    fresh_edge: Edge, json_logging_node: KamailioServer, tmp_path: Path
) -> None:
    edge = fresh_edge
    login = scenario(["dtmf:1001#", "dtmf:4711#"], tmp_path)
    call = edge.dial("hd3001", "*45", login, "login-to-follow", via=json_logging_node)
    assert call.run() == 0, call.messages
    sent = parse_message_log(call.message_file.read_text(errors="replace"))
    call_id = next(m.header("Call-ID") for m in sent if m.method == "INVITE")
    assert call_id

    kamailio = json_lines(json_logging_node.run_dir / "kamailio.log")
    assert f"voice menu: hd3001 dialled *45, call {call_id}" in [e["message"] for e in kamailio]
    # Lines of the request's own processing carry it as their callid.
    assert any(entry["callid"] == call_id for entry in kamailio)

    def of_the_call(path: Path) -> list[dict[str, Any]]:
        return [e for e in service_log(path) if e.get("correlation_id") == call_id]

    assert "menu_call_ended" in {e["event"] for e in of_the_call(edge.menu.log_file)}
    auth = of_the_call(edge.auth.log_file)
    assert [(e["event"], e["result"]) for e in auth] == [("pin_attempt", "ok")]
    binding = of_the_call(edge.binding.log_file)
    assert ("login", "logged_in") in {(e["event"], e.get("result")) for e in binding}
    # The audit trail keeps it too.
    with redis.Redis.from_url(edge.redis.url, decode_responses=True) as client:
        audit = [entry for _, entry in client.xrange(keys.audit(GROUP))]
    assert any(e["event"] == "pin_attempt" and e.get("correlation_id") == call_id for e in audit)
