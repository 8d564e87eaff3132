"""Device registration and request authentication at the real Kamailio."""

from tests.support.edge import Edge


def test_register_with_right_and_wrong_password(fresh_edge: Edge) -> None:
    ok = fresh_edge.register("reg-ok", "hd3001", contact_port=5999)
    assert ok.run() == 0
    assert ok.final_status() == 200
    wrong = fresh_edge.register("reg-wrong", "hd3002", contact_port=5999, password="not-the-secret")
    assert wrong.run() == 0
    assert wrong.final_status() == 403
