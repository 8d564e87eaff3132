"""Peers, DIDs and unavailable rules in the directory: validation and import."""

from redis.asyncio import Redis

from services.auth.credentials import sip_ha1
from services.directory.importer import DirectoryImporter
from services.directory.load import parse_directory
from services.kernel import keys
from tests.directory.support import CHEAP, EXAMPLE, dump, edited, problems
from tests.support.secrets import sealing_box

TENANTS = """\
tenants:
  - id: a
    domain: a.example
  - id: b
    domain: b.example
"""


def test_peer_fields_are_checked_each_with_its_line() -> None:
    found = problems(
        TENANTS
        + """\
peers:
  - name: Bad Name
    tenants: [a]
    destination: "sip:gw.example"
    addresses: ["gw.example", "10.0.0.1/24", "10.0.0.9:70000"]
  - name: ranges
    tenants: [a, a]
    direction: outbound
    destination: "sip:gw.example"
    numbers: ["+49", "0049"]
  - name: deaf
    tenants: [a]
    direction: inbound
  - name: mute
    tenants: [a]
    direction: outbound
  - name: sneaky
    tenants: [a]
    addresses: ["192.0.2.1"]
    destination: "sip:192.0.2.1"
    username: pbx
"""
    )
    assert found == [
        "dir.yaml:7: peers[0] (Bad Name): name: must be lowercase letters, digits, '.', '_' or "
        "'-' (at most 64, starting with a letter or digit)",
        "dir.yaml:10: peers[0] (Bad Name): addresses: 'gw.example' is not an IP address or "
        "network with an optional :port (host bits zero, IPv6 as [address]:port); "
        "'10.0.0.1/24' is not an IP address or network with an optional :port (host bits zero, "
        "IPv6 as [address]:port); port 70000 out of range in '10.0.0.9:70000'",
        "dir.yaml:12: peers[1] (ranges): tenants: named twice: a",
        "dir.yaml:15: peers[1] (ranges): numbers: must be E.164 prefixes (+ and 1 "
        "to 15 digits): '0049'",
        "dir.yaml:16: peers[2] (deaf): an inbound peer needs addresses (or credentials to "
        "register with): otherwise its calls cannot be told from anyone else's",
        "dir.yaml:19: peers[3] (mute): an outbound peer needs a destination (or credentials to "
        "register with): otherwise calls to it have nowhere to go",
        "dir.yaml:22: peers[4] (sneaky): username is set through credentials.username",
    ]


def test_peers_across_entries() -> None:
    found = problems(
        TENANTS
        + """\
    outbound_peer: listener
    emergency_route: [gw-b, nowhere]
users:
  - {tenant: a, extension: "1001", name: A, caller_id: "+491"}
devices:
  - {id: hd1, mac: "001565000001", vendor: yealink, model: T54W, tenant: a,
     sip_secret: secret-secret-1, emergency_caller_id: "+4930"}
peers:
  - name: listener
    tenants: [a, c]
    direction: inbound
    addresses: ["10.0.0.0/24"]
  - name: gw-b
    tenants: [a]
    addresses: ["10.0.0.7:5060"]
    destination: "sip:10.0.0.7"
    credentials: {username: hd1, password: long-enough-password}
  - name: gw-b
    tenants: [a]
    destination: "sip:10.0.1.7"
    credentials: {username: hd1, password: long-enough-password}
"""
    )
    assert found == [
        "dir.yaml:6: tenants[1] (b): outbound_peer: peer 'listener' is inbound only: calls "
        "cannot go out to it",
        "dir.yaml:7: tenants[1] (b): emergency_route: peer 'gw-b' does not serve tenant 'b' "
        "(its tenants)",
        "dir.yaml:7: tenants[1] (b): emergency_route: no peer 'nowhere' declared",
        "dir.yaml:15: peers[0] (listener): tenants: no tenant 'c' declared",
        "dir.yaml:20: peers[1] (gw-b): addresses: 10.0.0.7:5060 overlaps 10.0.0.0/24 of "
        "peers[0] (listener), line 14; a request from there could not be told apart",
        "dir.yaml:22: peers[1] (gw-b): credentials.username: 'hd1' is already a user or device "
        "name in tenant 'a', where this peer registers",
        "dir.yaml:23: peers[2] (gw-b): name: 'gw-b' is already used by peers[1] (gw-b), line 18",
        "dir.yaml:26: peers[2] (gw-b): credentials: user name 'hd1' is already used by peers[1] "
        "(gw-b), line 18",
        "dir.yaml:26: peers[2] (gw-b): credentials.username: 'hd1' is already a user or device "
        "name in tenant 'a', where this peer registers",
    ]


def test_addresses_that_differ_by_port_do_not_overlap() -> None:
    d = parse_directory(
        TENANTS
        + """\
peers:
  - {name: p1, tenants: [a], direction: inbound, addresses: ["127.0.0.1:5092"]}
  - {name: p2, tenants: [b], direction: inbound, addresses: ["127.0.0.1:5093", "::1"]}
""",
        "dir.yaml",
    )
    assert [p.addresses for p in d.peers] == [("127.0.0.1:5092",), ("127.0.0.1:5093", "::1")]


def test_dids_are_e164_and_ring_one_user_across_tenants() -> None:
    found = problems(
        TENANTS
        + """\
users:
  - {tenant: a, extension: "1", name: A, caller_id: "+491", dids: ["+4930111", "+4930111"]}
  - {tenant: b, extension: "1", name: B, caller_id: "+491", dids: ["+4930111", "030222"]}
  - {tenant: b, extension: "2", name: C, caller_id: "+491", dids: ["+4930333"]}
"""
    )
    assert found == [
        "dir.yaml:7: users[0] (a/1): dids: +4930111 is listed twice",
        "dir.yaml:8: users[1] (b/1): dids.1: must be an E.164 number: + and 2 to 15 digits, not "
        "starting with 0",
    ]
    again = problems(
        TENANTS
        + """\
users:
  - {tenant: a, extension: "1", name: A, caller_id: "+491", dids: ["+4930111"]}
  - {tenant: b, extension: "1", name: B, caller_id: "+491", dids: ["+4930111"]}
"""
    )
    assert again == [
        "dir.yaml:8: users[1] (b/1): dids: +4930111 is already a DID of users[0] (a/1), line 7"
    ]


def test_unavailable_rules() -> None:
    found = problems(
        """\
tenants:
  - id: a
    domain: a.example
    unavailable: {action: forward}
users:
  - tenant: a
    extension: "1"
    name: A
    caller_id: "+491"
    unavailable: {action: reject, target: "sip:vm@a.example"}
  - tenant: a
    extension: "2"
    name: B
    caller_id: "+491"
    unavailable: {action: forward, target: "voicemail", ring_seconds: 2}
"""
    )
    assert found == [
        "dir.yaml:4: tenants[0] (a): unavailable: action forward needs a target "
        "(sip:... or +E.164)",
        "dir.yaml:10: users[0] (a/1): unavailable: a target is only for action forward",
        "dir.yaml:15: users[1] (a/2): unavailable.target: must be a SIP URI (sip:user@host) or "
        "an E.164 number (+ and digits)",
        "dir.yaml:15: users[1] (a/2): unavailable.ring_seconds: Input should be greater than "
        "or equal to 5",
    ]


async def imported(redis: Redis, text: str) -> list[str]:
    report = await DirectoryImporter(redis, CHEAP, box=sealing_box()).apply(
        parse_directory(text, "dir.yaml")
    )
    return report.lines()


async def test_peer_changes_rewrite_kamailios_address_list(redis: Redis) -> None:
    example = EXAMPLE.read_text()
    await imported(redis, example)
    first = await redis.hgetall(keys.DIR_PEER_SOURCES)
    moved = example.replace('addresses: ["127.0.0.1:5092"]', 'addresses: ["192.0.2.0/28:5060"]')
    assert await imported(redis, moved) == [
        "~ peer demo-pstn: addresses 127.0.0.1:5092 -> 192.0.2.0/28:5060",
        "0 added, 1 changed, 0 removed (directory version 2)",
    ]
    second = await redis.hgetall(keys.DIR_PEER_SOURCES)
    assert second["digest"] != first["digest"]
    assert second["file"].splitlines()[1:] == ["1 192.0.2.0 28 5060 demo-pstn"]


async def test_a_registering_peer_keeps_only_its_ha1(redis: Redis) -> None:
    pbx = """
  - name: acme-pbx
    tenants: [acme]
    credentials: {username: acme-pbx, password: pbx-password-0001}
"""
    await imported(redis, EXAMPLE.read_text() + pbx)
    creds = await redis.hgetall(keys.sip_credentials("hotdesk.local", "acme-pbx"))
    assert creds["peer"] == "acme-pbx"
    assert creds["ha1"] == sip_ha1("acme-pbx", "hotdesk.local", "pbx-password-0001")
    assert "pbx-password-0001" not in str(await dump(redis))

    changed = pbx.replace("pbx-password-0001", "pbx-password-0002")
    assert (await imported(redis, EXAMPLE.read_text() + changed))[0] == (
        "~ peer acme-pbx: credentials changed"
    )
    # acme's desks accept emergency callbacks from one inbound peer fewer.
    assert "- peer acme-pbx" in await imported(redis, EXAMPLE.read_text())
    assert not await redis.exists(keys.sip_credentials("hotdesk.local", "acme-pbx"))
    assert set(await redis.hkeys(keys.DIR_PEERS)) == {"demo-pstn", "demo-emergency"}


async def test_dids_move_with_the_file(redis: Redis) -> None:
    await imported(redis, EXAMPLE.read_text())
    moved = edited(('dids: ["+4930123451002"]', 'dids: ["+4930123451012", "+4930123451022"]'))
    assert await imported(redis, moved) == [
        "~ user acme/1002: dids +4930123451002 -> +4930123451012,+4930123451022",
        "0 added, 1 changed, 0 removed (directory version 2)",
    ]
    numbers = await redis.hgetall(keys.DIR_NUMBERS)
    assert "+4930123451002" not in numbers
    assert numbers["+4930123451012"] == numbers["+4930123451022"] == "acme/1002"
