"""The console against the whole SIP edge (real Kamailio, voice menu,
binding and auth processes, the admin service as its own process): a
login made by SIP shows on the board without a reload, the operator forces
it out with a click, and the next SIP call to that user gets 480."""

from pathlib import Path

from tests.admin.conftest import EdgeAdmin
from tests.support.browser import Browser, browser
from tests.support.menu_calls import scenario

ROW = 'tr[data-device="hd3001"]'


def _who(b: Browser) -> str:
    return b.find(f"{ROW} .who").text


def test_a_sip_login_shows_live_and_a_forced_logout_is_what_sip_obeys(
    edge_with_admin: EdgeAdmin, tmp_path: Path
) -> None:
    edge = edge_with_admin.edge
    edge.logout_all()
    edge.login("hd3002", "1002")  # the caller's desk
    with browser(edge_with_admin.url) as b:
        b.sign_in("root", edge_with_admin.root_password)
        b.text_of("#live", "Live")
        assert _who(b) == "free"
        # Alice logs in by voice at hd3001: *45, 1001#, her PIN 4711# (SIP INFO).
        menu = edge.dial("hd3001", "*45", scenario(["info:1001#", "info:4711#"], tmp_path), "login")
        assert menu.run() == 0, menu.messages
        b.text_of(f"{ROW} .who", "1001 Alice Example")  # no reload: the event stream
        phone = edge.phone("alice-at-hd3001", "hd3001")
        before = edge.call("bob-to-alice", "hd3002", "1001")
        assert before.run() == 0 and before.final_status() == 200, before.messages
        assert phone.wait() == 0
        b.find(f'{ROW} button[data-action="logout"]').click()
        b.text_of("#notice", "1001 Alice Example logged out of hd3001")
        b.text_of(f"{ROW} .who", "free")
    after = edge.call("bob-to-alice-again", "hd3002", "1001")
    assert after.run() == 0
    assert after.final_status() == 480
