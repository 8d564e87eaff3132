"""The call load of the capacity and soak runs: ``desks`` caller desks
call as many callee desks, each desk with its own user logged in, pair
after pair, so that, as on a real edge, a user's own calls stay few.
(With one pair, every busy-lamp publish of the hot-desk path scans all of
that one user's recent calls in the presence server: at 500 calls/s that
scan was a third of Kamailio's CPU, a cost no real user's traffic has.)
The callee desks are the first fleet desks; their registrations all point
at one answering sipp. The plain path dials the callee desk, the hot-desk
path the extension of the user on it."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from bench.edge_calls import LOAD_SCENARIO, SIPP_BUFFERS, Stack, stack
from tests.support.demo import DOMAIN
from tests.support.fleet import fleet_directory, fleet_ids, fleet_secret, register_fleet
from tests.support.kamailio import KamailioServer

DESKS = 1_000  # caller desks, and as many callee desks


class DeskPairs:
    """The load's files in ``work``: the scenario and, per path, who calls whom."""

    def __init__(self, work: Path, desks: int) -> None:
        self.desks = desks
        self.scenario = work / "call-between-desks.xml"
        text = LOAD_SCENARIO.read_text()
        for keyword, column in (("[user]", "[field0]"), ("[service]", "[field1]")):
            text = text.replace(keyword, column)
        self.scenario.write_text(text.replace("[authentication]", "[field2]"))
        ids = fleet_ids(2 * desks)
        pairs = list(zip(ids[desks:], ids[:desks], strict=True))  # caller, callee
        self.calls: dict[bool, Path] = {}  # by hot-desk path or not
        for hotdesk in (False, True):
            lines = (
                f"{caller};{callee[1] if hotdesk else callee[0]};"
                f"[authentication username={caller} password={fleet_secret(caller)}]\n"
                for (caller, _), callee in pairs
            )
            self.calls[hotdesk] = work / f"calls-{'hotdesk' if hotdesk else 'plain'}.csv"
            self.calls[hotdesk].write_text("SEQUENTIAL\n" + "".join(lines))

    def caller_argv(self, kamailio: KamailioServer, hotdesk: bool, *extra: str) -> list[str]:
        """sipp as every caller desk in turn, through ``kamailio``."""
        return [
            *("sipp", f"127.0.0.1:{kamailio.sip_port}", "-sf", str(self.scenario)),
            *("-inf", str(self.calls[hotdesk]), "-i", "127.0.0.1", "-key", "domain", DOMAIN),
            "-nostdin",
            *SIPP_BUFFERS,
            *extra,
        ]

    def register(self, kamailio: KamailioServer, answer_port: int) -> None:
        """The callee desks at ``kamailio``, all answered on ``answer_port``
        (registrations last an hour)."""
        register_fleet(kamailio.sip_port, self.desks, answer_port, kamailio.run_dir)


@contextlib.contextmanager
def desks_stack(desks: int) -> Iterator[tuple[Stack, DeskPairs]]:
    """The bench stack with ``2 * desks`` fleet desks, each user logged in
    at her own desk, and the load's files."""
    with stack(directory=fleet_directory(2 * desks)) as st:
        st.login_all(fleet_ids(2 * desks))
        yield st, DeskPairs(st.work, desks)
