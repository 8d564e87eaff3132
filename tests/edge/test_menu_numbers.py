"""The voice menu through the real edge, logging in by phone number: sipp
desk phones key in a DID (RFC 4733 digits) where the extension is asked
for; the menu resolves it as its own read-only Redis user."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from hotdesk.v1 import binding_pb2 as pb

from tests.support.demo import DIRECTORY
from tests.support.edge import Edge
from tests.support.menu_calls import scenario

CAROL_CALLER_ID = 'caller_id: "+4930123451003"'


def on(edge: Edge, device: str) -> str:
    state = edge.stub().GetByDevice(pb.GetByDeviceRequest(device_id=device))
    return state.binding.extension if state.HasField("binding") else ""


@pytest.fixture
def shared_number(fresh_edge: Edge) -> Iterator[Edge]:
    """The edge with Carol presenting Bob's DID as her caller ID."""
    text = DIRECTORY.read_text()
    assert text.count(CAROL_CALLER_ID) == 1
    fresh_edge.import_directory(text.replace(CAROL_CALLER_ID, 'caller_id: "+4930123451002"'))
    yield fresh_edge
    fresh_edge.import_directory(text)


def test_login_by_did_digits(fresh_edge: Edge, tmp_path: Path) -> None:
    steps = ["dtmf:4930123451001#", "dtmf:4711#"]
    call = fresh_edge.dial("hd3001", "*45", scenario(steps, tmp_path), "did")
    assert call.run() == 0, call.messages
    assert on(fresh_edge, "hd3001") == "1001"


def test_a_user_of_another_tenant_by_did(fresh_edge: Edge, tmp_path: Path) -> None:
    # Gus (globex, company PIN) at an acme desk: the tenants share a cross-tenant group.
    steps = ["dtmf:442071234001#", "dtmf:2580#"]
    call = fresh_edge.dial("hd3002", "*45", scenario(steps, tmp_path), "gus")
    assert call.run() == 0, call.messages
    state = fresh_edge.stub().GetByDevice(pb.GetByDeviceRequest(device_id="hd3002"))
    assert (state.binding.tenant, state.binding.extension) == ("globex", "3001")


def test_a_number_of_two_users_logs_nobody_in(shared_number: Edge, tmp_path: Path) -> None:
    steps = ["dtmf:4930123451002#", "dtmf:8264#"] * 3
    call = shared_number.dial("hd3003", "*45", scenario(steps, tmp_path), "shared")
    assert call.run() == 0, call.messages
    assert on(shared_number, "hd3003") == ""
    assert shared_number.menu_calls()[-1]["outcome"] == "wrong_pin"
