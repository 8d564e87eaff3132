"""Many hot-desk devices and users for load and restart tests: a directory
file for them, their registration (one sipp run), and one UDP phone that
answers the NOTIFYs of all of them and records who got one when."""

import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from tests.support.demo import DOMAIN
from tests.support.sipp import SCENARIOS

FIRST = 5000


def fleet_ids(n: int) -> list[tuple[str, str]]:
    """(device id, extension) pairs."""
    return [(f"hd{FIRST + i}", str(FIRST + i)) for i in range(n)]


def fleet_directory(n: int) -> str:
    """Tenant acme (domain hotdesk.local) with ``n`` devices and users, no PINs."""
    users = "".join(
        f'  - {{tenant: acme, extension: "{ext}", name: "Fleet {ext}", '
        f'caller_id: "+4930123{ext}"}}\n'
        for _, ext in fleet_ids(n)
    )
    devices = "".join(
        f'  - {{id: {dev}, mac: "0015650{i:05x}", vendor: yealink, model: T54W, tenant: acme, '
        f'sip_secret: secret-of-{dev}, emergency_caller_id: "+4930123450100"}}\n'
        for i, (dev, _) in enumerate(fleet_ids(n))
    )
    return f"tenants:\n  - {{id: acme, domain: {DOMAIN}}}\nusers:\n{users}devices:\n{devices}"


def register_fleet(proxy_port: int, n: int, contact_port: int, work: Path) -> None:
    """Register every fleet device through the edge (fails loudly)."""
    inject = work / "fleet.csv"
    inject.write_text(
        "SEQUENTIAL\n"
        + "".join(
            f"{dev};[authentication username={dev} password=secret-of-{dev}]\n"
            for dev, _ in fleet_ids(n)
        )
    )
    argv = [
        *("sipp", f"127.0.0.1:{proxy_port}", "-sf", str(SCENARIOS / "register_fleet.xml")),
        *("-inf", str(inject), "-m", str(n), "-r", "200", "-l", "50"),
        *("-i", "127.0.0.1", "-key", "domain", DOMAIN, "-key", "contact_port", str(contact_port)),
        *("-nostdin", "-timeout", "60s", "-timeout_error"),
        *("-trace_err", "-error_file", str(work / "register_fleet.errors.log")),
        *("-trace_msg", "-message_file", str(work / "register_fleet.messages.log")),
    ]
    done = subprocess.run(argv, cwd=work, capture_output=True, timeout=90)
    assert done.returncode == 0, (work / "register_fleet.errors.log").read_text()[-2000:]


class NotifiedPhones:
    """One UDP socket standing in for every fleet phone's contact: answers
    each NOTIFY 200 and records the device (To user) and arrival time."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.received: list[tuple[str, float]] = []  # (device, time.monotonic())
        self._seen: set[str] = set()  # Call-IDs: retransmissions count once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "NotifiedPhones":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def counts(self) -> Counter[str]:
        return Counter(device for device, _ in list(self.received))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            at = time.monotonic()
            lines = data.decode(errors="replace").split("\r\n")
            if not lines[0].startswith("NOTIFY "):
                continue
            headers = [ln for ln in lines[1:] if ln]
            keep = [h for h in headers if h.split(":")[0].lower() in _ECHOED]
            call_id = next(h for h in headers if h.lower().startswith("call-id:"))
            to = next(h for h in headers if h.lower().startswith("to:"))
            if call_id not in self._seen:
                self._seen.add(call_id)
                self.received.append((to.split("sip:", 1)[1].split("@", 1)[0], at))
            reply = ["SIP/2.0 200 OK", *keep, "Content-Length: 0", "", ""]
            self._sock.sendto("\r\n".join(reply).encode(), addr)


_ECHOED = ("via", "from", "to", "call-id", "cseq")
