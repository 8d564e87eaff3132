"""The demo directory (examples/directory.yaml) as end-to-end tests and
benchmarks use it, and the sipp command line of a desk phone calling."""

import asyncio
from dataclasses import dataclass
from pathlib import Path

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from services.kernel.redis_conn import connect
from tests.support.kamailio import free_udp_port
from tests.support.secrets import pin_digester, sealing_box
from tests.support.sipp import Sipp

DIRECTORY = Path(__file__).resolve().parents[2] / "examples" / "directory.yaml"
DOMAIN = "hotdesk.local"

# An extension no demo user has: Kamailio's route cache keeps no callee half
# for it, so a call to it always asks the binding service.
NEVER_CACHED = "1999"


def secret(device: str) -> str:
    """The demo directory's SIP secret of a device."""
    return f"demo-secret-{device}"


@dataclass(frozen=True)
class Gateways:
    """Where the demo directory's peers are in a test: the emergency
    gateway and the PSTN gateway answer calls on their ports; the PSTN
    gateway's calls into the edge come from ``pstn_source`` (the demo has
    one port for both, a test needs a listening and a calling sipp)."""

    emergency: int
    pstn: int
    pstn_source: int


def demo_directory_text(gateways: Gateways | None = None) -> str:
    """examples/directory.yaml, its peers moved to ``gateways``."""
    text = DIRECTORY.read_text()
    if gateways is None:
        return text
    for old, new in (
        ('destination: "sip:127.0.0.1:5091"', f'destination: "sip:127.0.0.1:{gateways.emergency}"'),
        ('destination: "sip:127.0.0.1:5092"', f'destination: "sip:127.0.0.1:{gateways.pstn}"'),
        ('addresses: ["127.0.0.1:5092"]', f'addresses: ["127.0.0.1:{gateways.pstn_source}"]'),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def import_directory_text(
    redis_url: str, text: str, password_file: Path | None = None, *, cluster: bool = False
) -> int:
    """Import ``text`` (as the ACL user of ``redis_url``, if it names one;
    into a Redis Cluster with ``cluster``); the directory version after it."""

    async def run() -> int:
        redis = connect(redis_url, cluster=cluster, password_file=password_file)
        directory = parse_directory(text, str(DIRECTORY))
        importer = DirectoryImporter(
            redis, PinHasher(1, 8, 1), box=sealing_box(), digester=pin_digester()
        )
        report = await importer.apply(directory)
        await redis.aclose()
        return report.version

    return asyncio.run(run())


def import_demo_directory(
    redis_url: str,
    gateways: Gateways | None = None,
    password_file: Path | None = None,
    *,
    cluster: bool = False,
) -> None:
    import_directory_text(redis_url, demo_directory_text(gateways), password_file, cluster=cluster)


def caller_argv(
    proxy_port: int, scenario: Path, number: str, *extra: str, device: str = "hd3001"
) -> list[str]:
    """sipp as desk phone ``device`` calling ``number`` through the edge,
    answering digest challenges with the device's secret."""
    return [
        "sipp",
        f"127.0.0.1:{proxy_port}",
        "-sf",
        str(scenario),
        "-i",
        "127.0.0.1",
        "-s",
        number,
        "-key",
        "user",
        device,
        "-key",
        "domain",
        DOMAIN,
        "-au",
        device,
        "-ap",
        secret(device),
        "-nostdin",
        *extra,
    ]


def register_desk(
    proxy_port: int, device: str, *, contact_port: int, log_dir: Path, name: str
) -> None:
    """Desk phone ``device`` registers through the edge at ``proxy_port``
    with its Contact at ``contact_port`` (the test fails unless 200)."""
    sipp = registration(proxy_port, device, contact_port=contact_port, log_dir=log_dir, name=name)
    assert sipp.run() == 0
    assert sipp.final_status() == 200


def desk_call(proxy_port: int, device: str, number: str, *, log_dir: Path, name: str) -> Sipp:
    """sipp as desk phone ``device`` calling ``number`` once through the
    edge at ``proxy_port``, answering its challenge with the device's secret."""
    return Sipp(
        "call",
        f"127.0.0.1:{proxy_port}",
        log_dir,
        name=name,
        local_port=free_udp_port(),
        service=number,
        keys={"user": device, "domain": DOMAIN, "extra_header": "X-Test: none"},
        auth=(device, secret(device)),
    )


def registration(
    proxy_port: int,
    device: str,
    *,
    contact_port: int,
    log_dir: Path,
    name: str,
    password: str | None = None,
) -> Sipp:
    """sipp registering desk phone ``device`` with its Contact at
    ``contact_port`` (where the phone's answering half listens)."""
    return Sipp(
        "register",
        f"127.0.0.1:{proxy_port}",
        log_dir,
        name=name,
        local_port=free_udp_port(),
        keys={"user": device, "domain": DOMAIN, "contact_port": str(contact_port)},
        auth=(device, password or secret(device)),
    )
