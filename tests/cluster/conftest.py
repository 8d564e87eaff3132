import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack.redis_cluster import LocalRedisCluster
from tests.support.ports import bindable, worker_share


def free_node_ports(n: int) -> tuple[int, ...]:
    """Ports whose cluster bus port (+10000) is free too; Redis refuses
    ports above 55535 for that reason."""
    found: list[int] = []
    first, last = worker_share(20000, 29999)
    for _ in range(1000):
        port = random.randint(first, last)
        if port not in found and bindable(port) and bindable(port + 10000):
            found.append(port)
            if len(found) == n:
                return tuple(found)
    raise RuntimeError("no free ports for a Redis Cluster")


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """Three masters with a replica each, the project's ACL users on every
    node; a replica takes over 2 s after its master stops answering."""
    cluster = LocalRedisCluster(
        "127.0.0.1",
        free_node_ports(6),
        Path(tmp_path_factory.mktemp("redis-cluster")),
        node_timeout_ms=2000,
    )
    cluster.start()
    yield cluster
    cluster.stop()
