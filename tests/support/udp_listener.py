"""A UDP socket on 127.0.0.1 served by a thread of its own, so that arrival
times are taken as packets come in, whatever else the test is doing."""

import socket
import threading
import time
from typing import Self


class UdpListener:
    def __init__(self, receive_buffer: int = 1 << 20) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        self._sock.sendto(data, addr)

    def handle(self, data: bytes, addr: tuple[str, int], at: float) -> None:
        """One datagram, received at ``at`` (time.monotonic())."""
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.handle(data, addr, time.monotonic())
