"""Busy-lamp keys in edge tests: a phone watching a user, and the states
its NOTIFYs report for a call."""

import xml.etree.ElementTree as ET
from collections.abc import Callable

from tests.support.edge import Edge
from tests.support.kamailio import KamailioServer
from tests.support.sipp import SipMessage, Sipp
from tests.support.waiting import wait_for

DIALOG_INFO = "{urn:ietf:params:xml:ns:dialog-info}"


def call_states(notifies: list[SipMessage], entity: str, call_id: str) -> list[str]:
    """The states the NOTIFYs report for one call of ``entity``, in order
    (every body must be well-formed dialog-info XML for ``entity``)."""
    out = []
    for notify in notifies:
        assert notify.header("Content-Type") == "application/dialog-info+xml"
        root = ET.fromstring(notify.body)
        assert root.tag == f"{DIALOG_INFO}dialog-info"
        assert root.get("entity") == entity
        for dialog in root.iter(f"{DIALOG_INFO}dialog"):
            if dialog.get("call-id") == call_id:
                out.append(dialog.findtext(f"{DIALOG_INFO}state") or "")
    return out


def call_id(caller: Sipp) -> str:
    return caller.messages[0].header("Call-ID") or ""


def ended(lamp: Sipp, call: str) -> Callable[[], bool]:
    def check() -> bool:
        return any(call in m.body and "terminated" in m.body for m in lamp.received("NOTIFY"))

    return check


def answered_and_ended(call: Sipp, answering: Sipp, *lamps: Sipp) -> None:
    """``call`` ran to its end, answered (200) by ``answering``, and each of
    ``lamps`` has shown it terminated."""
    assert call.run() == 0
    assert call.final_status() == 200
    assert answering.wait() == 0
    for lamp in lamps:
        wait_for(ended(lamp, call_id(call)), "terminated call at the lamp")


def watch(
    edge: Edge,
    name: str,
    extension: str,
    device: str = "hd3003",
    via: KamailioServer | None = None,
) -> Sipp:
    """A BLF key of ``device`` on ``extension`` (subscribed at the edge's
    Kamailio, or ``via`` another node), once the first NOTIFY (the state
    when it subscribed) has arrived."""
    watcher = edge.from_phone(name, device, "subscribe", extension, via=via).start()
    wait_for(lambda: bool(watcher.received("NOTIFY")), "first NOTIFY at the lamp")
    return watcher
