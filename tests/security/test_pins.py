"""Findings: PIN attempts were limited per user+device and per device, but
not per user across devices; VerifyPin told unknown user, no PIN and unknown
device apart; an extension typed at the PIN prompt (maybe a PIN) could land
in logs and the audit trail. Against the real auth service (gRPC) and the
real voice menu behind the edge."""

import asyncio
import re
from pathlib import Path

from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb

from services.kernel import keys
from services.kernel.redis_conn import connect
from tests.support import pki
from tests.support.edge import Edge
from tests.support.menu_calls import scenario
from tests.support.ports import free_media_port

USER_LOCK = 'hotdesk_auth_lockouts_total{scope="user"}'


def verify(edge: Edge, extension: str, device: str, pin: str) -> apb.VerifyPinResponse:
    with pki.channel(edge.auth.grpc_address) as channel:
        reply: apb.VerifyPinResponse = auth_pb2_grpc.AuthServiceStub(channel).VerifyPin(
            apb.VerifyPinRequest(
                user=pb.UserRef(tenant="acme", extension=extension),
                device_id=device,
                pin=pin,
                channel="phone-screen",
            )
        )
        return reply


def test_a_user_guessed_at_from_many_desks_is_locked_on_every_desk(edge: Edge) -> None:
    """Two wrong PINs at each of three desks stay under every per-desk limit
    (backoff after 3); the sixth failure locks Alice everywhere (6 here)."""
    locks_before = edge.auth.metrics().get(USER_LOCK, 0.0)
    results = [
        verify(edge, "1001", device, wrong).result
        for device in ("hd3001", "hd3002", "hd3003")
        for wrong in ("1357", "2468")
    ]
    assert results == [apb.PIN_RESULT_WRONG_PIN] * 5 + [apb.PIN_RESULT_LOCKED]
    locked = verify(edge, "1001", "hd3001", "4711")  # her right PIN
    assert (locked.result, locked.retry_after_seconds) == (apb.PIN_RESULT_LOCKED, 900)
    assert verify(edge, "1002", "hd3001", "8264").result == apb.PIN_RESULT_OK  # only her
    metrics = edge.auth.metrics()
    assert metrics[USER_LOCK] == locks_before + 1
    assert metrics["hotdesk_auth_user_pin_failures_total"] >= 6
    lockouts = [e for e in audit(edge) if e["event"] == "pin_lockout"]
    assert (lockouts[-1]["scope"], lockouts[-1]["extension"]) == ("user", "1001")


def test_verify_pin_gives_one_answer_for_every_kind_of_unknown(edge: Edge) -> None:
    answers = {
        "no such user": verify(edge, "1999", "hd3001", "4711"),
        "a user without a PIN": verify(edge, "2001", "hd3001", "4711"),
        "no such device": verify(edge, "1001", "hd9999", "4711"),
    }
    assert len({a.SerializeToString(deterministic=True) for a in answers.values()}) == 1, answers


def test_an_extension_that_matches_no_user_is_never_logged_or_audited(
    edge: Edge, tmp_path: Path
) -> None:
    """Alice types her PIN where the menu asks for the extension."""
    steps = ["dtmf:4711#", "dtmf:4711#"]
    call = edge.from_phone(
        "pin-as-extension",
        "hd3003",
        scenario(steps, tmp_path, end="hangup"),
        "*45",
        timeout_s=40,
        media_port=free_media_port(),
    )
    assert call.run() == 0, call.messages
    entries = audit(edge)
    attempts = [e for e in entries if e["event"] == "pin_attempt" and e["device"] == "hd3003"]
    assert attempts and attempts[-1]["extension"] == "unknown"
    # In no field: as a value, or inside a text (timestamps and counters,
    # all digits, and random hexadecimal ids may hold the digits by chance).
    for entry in entries:
        for value in entry.values():
            by_chance = value.isdigit() or re.fullmatch(r"[0-9a-f]{16,}", value) is not None
            assert value != "4711" and (by_chance or "4711" not in value), entry
    # As the value of any logged field, in text (auth) or JSON (the menu);
    # ports and times may hold the digits.
    for service in (edge.auth, edge.menu):
        assert re.search(r'(=|":"?)4711(?![0-9])', service.log_file.read_text()) is None


def audit(edge: Edge) -> list[dict[str, str]]:
    async def read() -> list[dict[str, str]]:
        redis = connect(edge.redis.url)
        try:
            return [e for _, e in await redis.xrange(keys.audit("acme-group"))]
        finally:
            await redis.aclose()

    return asyncio.run(read())
