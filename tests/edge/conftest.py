"""One SIP edge per test module (see ``tests.support.edge``)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.edge import Edge, edge_stack
from tests.support.kamailio import KamailioServer


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    with edge_stack(tmp_path_factory.mktemp("edge")) as e:
        yield e


@pytest.fixture
def fresh_edge(edge: Edge) -> Edge:
    """The module's edge with every device logged out."""
    edge.logout_all()
    return edge


@pytest.fixture
def guarded_edge(edge: Edge, tmp_path: Path) -> Iterator[KamailioServer]:
    """A second Kamailio on the module edge's directory, with flood
    protection (the edge's own gateways: the discard port)."""
    kamailio = edge.another_kamailio(tmp_path / "kamailio", antiflood=True)
    kamailio.start()
    kamailio.wait_for_peer_reload()
    yield kamailio
    kamailio.stop()
