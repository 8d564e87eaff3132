"""Finding: anything inside MENU_TRUSTED_EDGES (all of 10.0.0.0/8) could
talk to the voice menu with a forged X-Hotdesk-Device and act as any desk.
Now the menu believes only the edge's signature over device, source, time
and Call-ID; without the key neither side starts."""

import contextlib
import socket
import subprocess
from pathlib import Path

import pytest

from services.devstack.menu_key import ensure_menu_key
from tests.security.direct import (
    edge_socket,
    final,
    new_call_id,
    offer,
    replies,
    request,
    signed,
    status,
)
from tests.support.edge import Edge
from tests.support.service_process import ServiceProcess


def menu(edge: Edge) -> tuple[str, int]:
    return ("127.0.0.1", edge.menu_port)


def forged(edge: Edge, call_id: str, tmp_path: Path) -> dict[str, str]:
    other_key = ensure_menu_key(tmp_path / "not-the-edge.key")
    return {
        "unsigned": "hd3001",
        "wrong key": signed(other_key, call_id),
        "stale": signed(edge.menu_key, call_id, age=3600),
        "from the future": signed(edge.menu_key, call_id, age=-3600),
        "another call's": signed(edge.menu_key, "another-call"),
        "another device": signed(edge.menu_key, call_id).replace("hd3001;", "hd3002;"),
    }


@pytest.mark.parametrize(
    "kind",
    ["unsigned", "wrong key", "stale", "from the future", "another call's", "another device"],
)
def test_a_forged_device_header_from_a_trusted_address_is_refused(
    edge: Edge, tmp_path: Path, kind: str
) -> None:
    before = edge.menu.metrics().get("hotdesk_menu_calls_total", 0.0)
    call_id = new_call_id()
    with edge_socket() as sock:  # 127.0.0.1: inside menu_trusted_edges
        header = forged(edge, call_id, tmp_path)[kind]
        sock.sendto(request(sock, call_id, device_header=header, body=offer()), menu(edge))
        reply = final(sock)
        assert not [r for r in replies(sock, 0.5) if r.startswith(b"SIP/2.0 2")]
    assert status(reply) == 403, reply
    assert b"X-Hotdesk-Device" in reply.split(b"\r\n", 1)[0], reply  # the reason phrase says why
    assert edge.menu.metrics().get("hotdesk_menu_calls_total", 0.0) == before
    assert "menu_refused" in edge.menu.log_file.read_text()


def test_the_edges_signature_is_taken(edge: Edge) -> None:
    """The control: the same request with the edge's signature is served."""
    call_id = new_call_id()
    with edge_socket() as sock:
        header = signed(edge.menu_key, call_id)
        sock.sendto(request(sock, call_id, device_header=header, body=offer()), menu(edge))
        reply = final(sock)
        assert status(reply) == 200, reply
        tag = reply.split(b"tag=")[-1].split(b"\r\n")[0].decode()
        sock.sendto(
            request(sock, call_id, device_header=None, method="BYE", to_tag=tag, cseq=2),
            menu(edge),
        )


def test_the_menu_does_not_start_without_its_key(edge: Edge, tmp_path: Path) -> None:
    """Zero trust: there is no unsigned mode."""
    menu = ServiceProcess(
        "menu",
        edge.redis.url_as("menu"),
        tmp_path / "menu.log",
        ("grpc",),
        {"HOTDESK_MENU_SIP_PORT": "0"},  # and no HOTDESK_MENU_KEY_FILE
        redis_password_file=edge.redis.password_file("menu"),
    )
    with pytest.raises(RuntimeError, match="exited"):
        menu.start()
    assert "HOTDESK_MENU_KEY_FILE" in menu.log_file.read_text()


def test_the_edge_does_not_start_without_the_key(edge: Edge, tmp_path: Path) -> None:
    """Kamailio's first worker refuses to run without the key and stops
    Kamailio: it never answers SIP. (Its main process may then hang in
    Kamailio 5.6's teardown instead of exiting, with TLS more often than
    not, and its exit status is not reliable: the container's entrypoint
    checks the key before starting it.)"""
    kamailio = edge.another_kamailio(tmp_path / "kamailio", menu_key=None, tls=False)
    try:
        with contextlib.suppress(RuntimeError):  # "kamailio exited": the usual end
            kamailio.start()
        assert kamailio.proc is not None
        # Its exit status says nothing (0 as often as not); it stops.
        with contextlib.suppress(subprocess.TimeoutExpired):
            kamailio.proc.wait(timeout=15)
        assert "exit due to 'drop'" in kamailio.log
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2)
            options = (
                f"OPTIONS sip:127.0.0.1:{kamailio.sip_port} SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-nokey\r\n"
                "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
                "Call-ID: nokey\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            sock.sendto(options.encode(), ("127.0.0.1", kamailio.sip_port))
            with pytest.raises(TimeoutError):
                sock.recv(65535)
    finally:
        kamailio.stop()
    assert "HD_MENU_KEY_FILE" in kamailio.log
