"""One SIP edge per test module (see ``tests.support.edge``)."""

from collections.abc import Iterator

import pytest

from tests.support.edge import Edge, edge_stack


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    with edge_stack(tmp_path_factory.mktemp("edge")) as e:
        yield e


@pytest.fixture
def fresh_edge(edge: Edge) -> Edge:
    """The module's edge with every device logged out."""
    edge.logout_all()
    return edge
