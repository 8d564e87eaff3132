"""One edge for the security tests (the whole stack, as processes), with
small caps so that they are reached with few calls: 3 menu calls in total,
and 6 wrong PINs lock a user across the demo's 3 desks."""

from collections.abc import Iterator

import pytest
from hotdesk.v1 import auth_pb2 as apb
from hotdesk.v1 import auth_pb2_grpc
from hotdesk.v1 import binding_pb2 as pb

from tests.support import pki
from tests.support.edge import Edge, edge_stack

SETTINGS = {
    "HOTDESK_MENU_MAX_CALLS": "3",
    "HOTDESK_AUTH_USER_MAX_FAILURES": "6",
}


@pytest.fixture(scope="package")
def security_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    with edge_stack(tmp_path_factory.mktemp("security-edge"), SETTINGS) as edge:
        yield edge


@pytest.fixture
def edge(security_edge: Edge) -> Iterator[Edge]:
    """The edge with nobody logged in; every lockout cleared afterwards."""
    security_edge.logout_all()
    yield security_edge
    with pki.channel(security_edge.auth.grpc_address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        for ext in ("1001", "1002", "1003"):
            stub.Unlock(apb.UnlockRequest(user=pb.UserRef(tenant="acme", extension=ext), actor="t"))
        for device in ("hd3001", "hd3002", "hd3003"):
            stub.Unlock(apb.UnlockRequest(device_id=device, actor="t"))
