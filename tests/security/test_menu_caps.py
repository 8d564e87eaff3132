"""Finding: no cap on menu calls per device or in total: one desk (or a
forger) could hold any number of calls, each with its RTP socket and 120 s
of prompts. Now a device gets its two calls (486 Busy Here beyond) and the
menu its total (503 with Retry-After beyond; 3 in these tests)."""

from collections import Counter

from tests.security.direct import (
    answered,
    edge_socket,
    final,
    finals_by_call,
    hang_up,
    header,
    new_call_id,
    offer,
    replies,
    request,
    signed,
    status,
)
from tests.support.edge import Edge


def test_twenty_calls_at_once_from_one_desk_then_the_total(edge: Edge) -> None:
    menu = ("127.0.0.1", edge.menu_port)
    with edge_socket() as sock:
        calls = [new_call_id() for _ in range(20)]
        for call_id in calls:
            device_header = signed(edge.menu_key, call_id, device="hd3001")
            sock.sendto(request(sock, call_id, device_header=device_header, body=offer()), menu)
        got = replies(sock, 2.5)  # ringing lasts 0.5 s, then the 200s
        finals = finals_by_call(got)
        assert set(finals) == set(calls), got
        assert Counter(finals.values()) == {486: 18, 200: 2}
        # Another desk: one more call fits the total of 3, the next does not.
        others = [new_call_id() for _ in range(2)]
        for call_id in others:
            device_header = signed(edge.menu_key, call_id, device="hd3002")
            sock.sendto(request(sock, call_id, device_header=device_header, body=offer()), menu)
        more = replies(sock, 2.5)
        theirs = {c: s for c, s in finals_by_call(more).items() if c in others}
        assert Counter(theirs.values()) == {200: 1, 503: 1}, more
        full = [r for r in more if r.startswith(b"SIP/2.0 503")]
        assert header(full[0], "Retry-After").isdigit()
        hang_up(sock, menu, answered(got + more))
        replies(sock, 0.5)
    metrics = edge.menu.metrics()
    assert metrics['hotdesk_menu_outcomes_total{outcome="busy"}'] >= 18
    assert metrics['hotdesk_menu_outcomes_total{outcome="overloaded"}'] >= 1
    # The places are given back: a call fits again.
    with edge_socket() as sock:
        call_id = new_call_id()
        device_header = signed(edge.menu_key, call_id, device="hd3001")
        sock.sendto(request(sock, call_id, device_header=device_header, body=offer()), menu)
        reply = final(sock)
        assert status(reply) == 200, reply
        hang_up(sock, menu, [reply])
