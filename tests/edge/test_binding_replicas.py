"""Two binding service processes on one lookup port (SO_REUSEPORT): when
the one answering Kamailio's lookups dies, the other answers every lookup
that follows."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.binding_process import BindingProcess
from tests.support.demo import DOMAIN, NEVER_CACHED, secret
from tests.support.edge import Edge
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.sipp import Sipp

CALLS = 12


@pytest.fixture
def replicas(edge: Edge, tmp_path: Path) -> Iterator[tuple[KamailioServer, list[BindingProcess]]]:
    first = BindingProcess(
        edge.redis.url_as("binding"),
        tmp_path / "binding-1.log",
        edge.redis.password_file("binding"),
    )
    second = BindingProcess(
        edge.redis.url_as("binding"),
        tmp_path / "binding-2.log",
        edge.redis.password_file("binding"),
        sharing_with=first,
    )
    first.start()
    second.start()
    kamailio = edge.another_kamailio(tmp_path / "kamailio", binding_url=first.route_url, tls=False)
    kamailio.start()
    try:
        yield kamailio, [first, second]
    finally:
        kamailio.stop()
        first.kill()
        second.kill()


def lookups_answered(kamailio: KamailioServer, logs: Path, name: str) -> list[int | None]:
    """An idle desk calls an extension nobody has ``CALLS`` times (never
    answered from Kamailio's route cache): 403 means the lookup answered
    (log in first), 503 that it did not."""
    statuses = []
    for n in range(CALLS):
        call = Sipp(
            "call",
            f"127.0.0.1:{kamailio.sip_port}",
            logs,
            name=f"{name}-{n}",
            local_port=free_udp_port(),
            service=NEVER_CACHED,
            keys={"user": "hd3003", "domain": DOMAIN, "extra_header": "X-Test: none"},
            auth=("hd3003", secret("hd3003")),
            timeout_s=5,
        )
        call.run()
        statuses.append(call.final_status())
    return statuses


def served(binding: BindingProcess) -> float:
    return sum(
        value
        for name, value in binding.metrics().items()
        if name.startswith("hotdesk_binding_route_lookups_total")
    )


def test_kamailio_keeps_its_lookups_when_one_binding_process_dies(
    fresh_edge: Edge, replicas: tuple[KamailioServer, list[BindingProcess]], tmp_path: Path
) -> None:
    kamailio, processes = replicas
    assert lookups_answered(kamailio, tmp_path, "both-up") == [403] * CALLS
    # Kamailio's lookup client keeps its connections: one process may have
    # taken every lookup. The one that served goes.
    busy = max(processes, key=served)
    (survivor,) = [p for p in processes if p is not busy]
    assert served(busy) > 0
    before = served(survivor)
    busy.kill()
    assert lookups_answered(kamailio, tmp_path, "one-left") == [403] * CALLS
    assert served(survivor) == before + CALLS
