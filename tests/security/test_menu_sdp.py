"""Finding: a malformed m= or c= line raised an uncaught IndexError in the
menu (no answer, a traceback). Now every unreadable offer is answered 400
(488 for one that is readable but unacceptable) and the menu keeps serving."""

import pytest

from tests.security.direct import (
    edge_socket,
    final,
    hang_up,
    new_call_id,
    offer,
    request,
    signed,
    status,
)
from tests.support.edge import Edge

MALFORMED = {
    "m= without a port": offer(m_line="m=audio"),
    "m= port not a number": offer(m_line="m=audio x RTP/AVP 0"),
    "m= port out of range": offer(m_line="m=audio 70000 RTP/AVP 0"),
    "empty c=": offer().replace("c=IN IP4 127.0.0.1", "c="),
    "c= without an address": offer().replace("c=IN IP4 127.0.0.1", "c=IN IP4"),
    "c= of the wrong family": offer("::1"),
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_a_malformed_offer_is_answered_400_and_the_menu_keeps_serving(
    edge: Edge, kind: str
) -> None:
    menu = ("127.0.0.1", edge.menu_port)
    with edge_socket() as sock:
        call_id = new_call_id()
        header = signed(edge.menu_key, call_id)
        sock.sendto(request(sock, call_id, device_header=header, body=MALFORMED[kind]), menu)
        reply = final(sock)
        assert status(reply) == 400, reply
        assert b"Warning: 399 menu" in reply
        # Still serving: the next (good) call is answered.
        call_id = new_call_id()
        header = signed(edge.menu_key, call_id)
        sock.sendto(request(sock, call_id, device_header=header, body=offer()), menu)
        answered = final(sock)
        assert status(answered) == 200, answered
        hang_up(sock, menu, [answered])
    assert "Traceback" not in edge.menu.log_file.read_text()
