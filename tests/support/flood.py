"""A source that sends too fast: what trips Kamailio's flood protection."""

import socket

from tests.support.kamailio import KamailioServer


def options_request(proxy_port: int, local_port: int, n: int) -> bytes:
    """The ``n``-th OPTIONS from ``local_port`` to the edge on ``proxy_port``."""
    return (
        f"OPTIONS sip:127.0.0.1:{proxy_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-flood-{n}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:flood@127.0.0.1>;tag=f{n}\r\n"
        f"To: <sip:127.0.0.1:{proxy_port}>\r\n"
        f"Call-ID: flood-{n}@127.0.0.1\r\n"
        f"CSeq: {n + 1} OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def burst(kamailio: KamailioServer, local_port: int = 0, n: int = 300) -> int:
    """``n`` well-formed OPTIONS back to back (far over 40 per 2 s) from
    ``local_port``; how many were answered."""
    proxy = ("127.0.0.1", kamailio.sip_port)
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(("127.0.0.1", local_port))
        port = sock.getsockname()[1]
        for i in range(n):
            sock.sendto(options_request(kamailio.sip_port, port, i), proxy)
        sock.settimeout(1)
        try:
            while sock.recv(4096):
                answered += 1
        except TimeoutError:
            pass
    return answered
