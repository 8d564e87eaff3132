"""A forced logout through the admin API is what the SIP edge obeys: the
real Kamailio, binding and auth services (each as its own process and
Redis user), the admin service as a process of its own as in make run."""

import json
import urllib.request

from tests.admin.conftest import EdgeAdmin


def _post(url: str, token: str) -> dict[str, object]:
    request = urllib.request.Request(
        url, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        reply: dict[str, object] = json.loads(answer.read())
        return reply


def test_after_a_forced_logout_calls_to_the_user_get_480(edge_with_admin: EdgeAdmin) -> None:
    edge, url, token = edge_with_admin.edge, edge_with_admin.url, edge_with_admin.token
    edge.logout_all()
    edge.login("hd3001", "1001")
    edge.login("hd3002", "1002")
    phone = edge.phone("bob-at-hd3002", "hd3002")
    before = edge.call("alice-to-bob", "hd3001", "1002")
    assert before.run() == 0 and before.final_status() == 200, before.messages
    assert phone.wait() == 0
    outcome = _post(f"{url}/api/v1/users/acme/1002/logout", token)
    assert outcome["result"] == "logged_out"
    after = edge.call("alice-to-bob-again", "hd3001", "1002")
    assert after.run() == 0
    assert after.final_status() == 480
