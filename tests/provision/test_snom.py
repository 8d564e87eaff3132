"""The third phone family, Snom D-series: its files rendered and read back
as the phone reads them (XML settings), its file names and User-Agents, and
a Snom desk's file through a login and a logout over HTTP."""

import xml.etree.ElementTree as ET

import pytest
from redis.asyncio import Redis

from services.auth.pins import PinHasher
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from services.provision.phone import Key
from services.provision.vendors import VENDORS, identify_path
from services.provision.vendors.base import FileRequest, ModelSpec
from tests.provision.test_vendors import make_view
from tests.support.demo import DIRECTORY
from tests.support.phone_files import SNOM_RESET, snom_values
from tests.support.provision import Stack, phone_session
from tests.support.secrets import sealing_box

SNOM = VENDORS["snom"]
MAC = "000413aa3004"
FILE = f"snom-{MAC}.xml"
UA = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.54.13 1.1.3-s)"
# A Snom desk of acme, added to the demo directory for these tests.
HD3004 = """  - id: hd3004
    mac: "00:04:13:aa:30:04"
    vendor: snom
    model: D785
    tenant: acme
    sip_secret: demo-secret-hd3004
    emergency_caller_id: "+4930123450100"
"""


def settings(body: bytes) -> tuple[dict[str, str], dict[int, tuple[str, str]], ET.Element]:
    """(phone settings by name, with "#<idx>" for indexed ones; function
    keys by idx as (label, value); the whole tree)."""
    root = ET.fromstring(body)
    keys = {
        int(k.get("idx", "-1")): (k.get("label", ""), k.text or "")
        for k in root.findall("functionKeys/fkey")
    }
    return snom_values(body.decode()), keys, root


def render(logged_in: bool, keys: tuple[Key, ...] | None = None) -> bytes:
    view = make_view("snom", "D785", MAC, logged_in=logged_in, key_count=24, keys=keys)
    request = SNOM.parse_path(FILE)
    assert request is not None
    return SNOM.render(request, view).body


def test_logged_in_file() -> None:
    values, keys, root = settings(render(logged_in=True))
    assert values["user_name#1"] == "hd3001" and values["user_host#1"] == "hotdesk.local"
    assert values["user_pass#1"] == 'S3cret-<pw>&"x'  # escaped in the file, intact when read
    assert values["user_outbound#1"] == "edge.hotdesk.example:5070;transport=tcp"
    assert values["user_idle_text#1"] == "1001 Alice Example"
    assert values["user_realname#1"] == "Alice Example"
    assert values["user_ringer#1"] == "Ringer3"
    assert values["setting_server"] == "https://prov.example/p/snom-{mac}.xml"
    assert values["checksync_action"] == "sync"
    assert values["admin_mode_password"] == "k2pq7x4mzvb5n3c6yt2a"
    assert keys[0] == ("Logout", "url https://prov.example/hd/logout?device=hd3001&g=7")
    assert keys[1] == ("Bob", "blf <sip:1002@hotdesk.local>")
    assert keys[2] == ("Voicemail", "speed *97")
    assert keys[3] == ("Carol", "blf <sip:1003@hotdesk.local>")
    assert [keys[n] for n in range(4, 24)] == [("", "none")] * 20
    assert sorted(keys) == list(range(24))
    # Nothing of one user stays for the next.
    assert {name: values.get(name) for name in SNOM_RESET} == SNOM_RESET
    tbook = root.find("tbook")
    assert tbook is not None and tbook.get("complete") == "true" and len(tbook) == 0


def test_idle_file_dials_the_login_code() -> None:
    values, keys, _ = settings(render(logged_in=False, keys=(Key("speed_dial", "*45", "Login"),)))
    assert values["user_idle_text#1"] == "HD hd3001"
    assert keys[0] == ("Login", "speed *45")
    assert all(keys[n] == ("", "none") for n in range(1, 24))


def test_a_speed_dial_is_digits_only() -> None:
    with pytest.raises(ValueError, match="not a dial string"):
        render(logged_in=True, keys=(Key("speed_dial", "1 url http://x", "x"),))


def test_paths_user_agents_and_models() -> None:
    assert SNOM.parse_path(FILE) == FileRequest("device", FILE, MAC)
    assert SNOM.parse_path("snom-000413AA3004.xml") == FileRequest(
        "device", "snom-000413AA3004.xml", MAC
    )
    for other in ("snom-000000000000.xml", "000413aa3004.cfg", "snomD785.htm", "snom-1.xml"):
        assert SNOM.parse_path(other) is None
    assert identify_path(FILE, UA) == (SNOM, FileRequest("device", FILE, MAC))
    agent = SNOM.parse_user_agent(UA)
    assert agent is not None and (agent.model, agent.mac) == ("D785", None)
    assert SNOM.parse_user_agent("Yealink SIP-T54W 96.86.0.100") is None
    assert SNOM.model("D785") == ModelSpec("D785", 24, browser=False)
    assert SNOM.model("D999") == ModelSpec("D999", 48, browser=False)
    assert not SNOM.screen_forms


def test_browser_pages_parse() -> None:
    for page in (
        SNOM.message_page("Logged out", "Bob <b> is logged out"),
        SNOM.logout_page("https://p/x?confirm=1", "Bob"),
        SNOM.login_page("https://p/login?t=1", "gus", None),
        SNOM.logout_pin_page("https://p/logout", "Bob", "Wrong PIN."),
    ):
        assert ET.fromstring(page.body).tag.startswith("SnomIPPhone")


async def test_a_snom_desk_through_login_and_logout(stack: Stack, redis: Redis) -> None:
    text = DIRECTORY.read_text()
    assert text.count("\n# Trunks and PBXs") == 1
    changed = text.replace("\n# Trunks and PBXs", HD3004 + "\n# Trunks and PBXs")
    directory = parse_directory(changed, str(DIRECTORY))
    await DirectoryImporter(redis, PinHasher(1, 8, 1), box=sealing_box()).apply(directory)
    await stack.provision.tenants.refresh()

    async def fetched() -> tuple[dict[str, str], dict[int, tuple[str, str]]]:
        async with phone_session(UA, "hd3004") as session, session.get(f"{stack.url}/{FILE}") as r:
            assert r.status == 200, await r.text()
            values, keys, _ = settings(await r.read())
            return values, keys

    idle, idle_keys = await fetched()
    assert idle["user_pass#1"] == "demo-secret-hd3004"
    assert idle["user_idle_text#1"] == "HD hd3004" and idle_keys[0] == ("Login", "speed *45")
    await stack.login("hd3004", "1001")
    alice, alice_keys = await fetched()
    assert alice["user_idle_text#1"] == "1001 Alice Example"
    assert alice_keys[0] == ("Logout", "speed *46")
    assert alice_keys[1] == ("Alice", "blf <sip:1001@hotdesk.local>")
    await stack.logout("hd3004")
    after, after_keys = await fetched()
    assert after["user_idle_text#1"] == "HD hd3004"
    assert after_keys == idle_keys
    # DND, forwarding and volumes are set back by every file of the desk.
    for stage, values in (("idle", idle), ("logged in", alice), ("logged out", after)):
        assert {name: values.get(name) for name in SNOM_RESET} == SNOM_RESET, stage
    async with phone_session(UA, "hd3001") as session, session.get(f"{stack.url}/{FILE}") as r:
        assert r.status in (401, 404)  # another device's credentials never get it
