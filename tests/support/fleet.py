"""Many hot-desk devices and users for load and restart tests and the
benchmark: a directory file for them, their registration (one sipp run), one
UDP phone that answers the NOTIFYs of all of them and records who got one
when, and the whole stack around them (Redis, binding and provision services
as processes, Kamailio)."""

import asyncio
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import binding_pb2_grpc

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from services.kernel.redis_conn import connect
from tests.support import pki
from tests.support.binding_process import BindingProcess
from tests.support.demo import DOMAIN
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.redis_server import RedisServer
from tests.support.secrets import sealing_box
from tests.support.service_process import ServiceProcess
from tests.support.sipp import SCENARIOS
from tests.support.udp_listener import UdpListener

# Only this loopback address may push check-sync NOTIFYs to the edge.
PUSH_HOST = "127.0.0.2"
PUSH_FROM = f"{PUSH_HOST}/32"

FIRST = 5000


def fleet_ids(n: int) -> list[tuple[str, str]]:
    """(device id, extension) pairs."""
    return [(f"hd{FIRST + i}", str(FIRST + i)) for i in range(n)]


def fleet_secret(device: str) -> str:
    """A fleet device's SIP secret."""
    return f"secret-of-{device}"


def fleet_directory(n: int) -> str:
    """Tenant acme (domain hotdesk.local) with ``n`` devices and users, no PINs."""
    users = "".join(
        f'  - {{tenant: acme, extension: "{ext}", name: "Fleet {ext}", '
        f'caller_id: "+4930123{ext}"}}\n'
        for _, ext in fleet_ids(n)
    )
    devices = "".join(
        f'  - {{id: {dev}, mac: "0015650{i:05x}", vendor: yealink, model: T54W, tenant: acme, '
        f'sip_secret: {fleet_secret(dev)}, emergency_caller_id: "+4930123450100"}}\n'
        for i, (dev, _) in enumerate(fleet_ids(n))
    )
    return f"tenants:\n  - {{id: acme, domain: {DOMAIN}}}\nusers:\n{users}devices:\n{devices}"


def register_fleet(proxy_port: int, n: int, contact_port: int, work: Path) -> None:
    """Register every fleet device through the edge (fails loudly)."""
    inject = work / "fleet.csv"
    inject.write_text(
        "SEQUENTIAL\n"
        + "".join(
            f"{dev};[authentication username={dev} password={fleet_secret(dev)}]\n"
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


class NotifiedPhones(UdpListener):
    """One UDP socket standing in for every fleet phone's contact: answers
    each NOTIFY 200 and records the device (To user) and arrival time."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[str, float]] = []  # (device, time.monotonic())
        self._seen: set[str] = set()  # Call-IDs: retransmissions count once

    def counts(self) -> Counter[str]:
        return Counter(device for device, _ in list(self.received))

    def handle(self, data: bytes, addr: tuple[str, int], at: float) -> None:
        lines = data.decode(errors="replace").split("\r\n")
        if not lines[0].startswith("NOTIFY "):
            return
        headers = [ln for ln in lines[1:] if ln]
        keep = [h for h in headers if h.split(":")[0].lower() in _ECHOED]
        call_id = next(h for h in headers if h.lower().startswith("call-id:"))
        to = next(h for h in headers if h.lower().startswith("to:"))
        if call_id not in self._seen:
            self._seen.add(call_id)
            self.received.append((to.split("sip:", 1)[1].split("@", 1)[0], at))
        reply = ["SIP/2.0 200 OK", *keep, "Content-Length: 0", "", ""]
        self.send("\r\n".join(reply).encode(), addr)


_ECHOED = ("via", "from", "to", "call-id", "cseq")


def import_fleet(redis_url: str, n: int) -> None:
    async def run() -> None:
        redis = connect(redis_url)
        directory = parse_directory(fleet_directory(n), "fleet.yaml")
        await DirectoryImporter(redis, PinHasher(1, 8, 1), box=sealing_box()).apply(directory)
        await redis.aclose()

    asyncio.run(run())


@dataclass
class Fleet:
    size: int
    redis: RedisServer
    binding: BindingProcess
    kamailio: KamailioServer
    provision: ServiceProcess
    phones: NotifiedPhones
    # Further members of the provision consumer group (fleet_stack's ``members``).
    more_provisions: list[ServiceProcess]

    def binding_stub(self) -> binding_pb2_grpc.BindingServiceStub:
        return binding_pb2_grpc.BindingServiceStub(pki.channel(self.binding.grpc_address))

    def login(self, device: str, ext: str) -> None:
        r = self.binding_stub().Login(
            bpb.LoginRequest(
                device_id=device, user=bpb.UserRef(tenant="acme", extension=ext), actor="fleet"
            )
        )
        assert r.result == bpb.LOGIN_RESULT_LOGGED_IN, r

    def logout(self, device: str) -> None:
        self.binding_stub().Logout(bpb.LogoutRequest(device_id=device, actor="fleet"))


@contextmanager
def fleet_stack(
    root: Path, size: int, provision_env: dict[str, str], members: int = 1
) -> Iterator[Fleet]:
    """``size`` registered fleet phones behind the real edge, the binding and
    provision services as processes (``provision_env`` adds settings;
    ``members`` provision processes share the consumer group)."""
    redis = RedisServer(root / "redis")
    redis.start()
    try:
        import_fleet(redis.url, size)
        binding = BindingProcess(redis.url, root / "binding.log")
        binding.start()
        kamailio = KamailioServer(
            root / "kamailio",
            redis=redis,
            binding_url=binding.route_url,
            emergency_gw=f"sip:127.0.0.1:{free_udp_port()}",
            pstn_gw=f"sip:127.0.0.1:{free_udp_port()}",
            push_from=PUSH_FROM,
        )
        kamailio.start()
        provisions = [
            ServiceProcess(
                "provision",
                redis.url,
                root / f"provision-{n}.log",
                ("grpc", "http"),
                {
                    "HOTDESK_PROVISION_BINDING_ADDRESS": binding.grpc_address,
                    "HOTDESK_PROVISION_PUSH_EDGE_PORT": str(kamailio.push_port),
                    "HOTDESK_PROVISION_PUSH_BIND_HOST": PUSH_HOST,
                    "HOTDESK_PROVISION_CONSUMER_NAME": f"provision-{n}",
                    **provision_env,
                },
            )
            for n in range(members)
        ]
        with NotifiedPhones() as phones:
            register_fleet(kamailio.sip_port, size, phones.port, root)
            for provision in provisions:
                provision.start()
            try:
                yield Fleet(size, redis, binding, kamailio, provisions[0], phones, provisions[1:])
            finally:
                for provision in provisions:
                    provision.stop()
                kamailio.stop()
                binding.stop()
    finally:
        redis.kill()
