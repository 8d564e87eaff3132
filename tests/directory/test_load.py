"""Validation of directory files: every problem at once, each located by
file and line, entry and field."""

from pathlib import Path

import pytest

from services.directory.load import DirectoryError, load_directory, parse_directory
from services.kernel.tenants import FeatureCode
from tests.directory.support import EXAMPLE, edited, problems

VALID_TENANT = "tenants:\n  - {id: a, domain: a.example}\n"


def test_the_example_is_valid() -> None:
    d = load_directory(EXAMPLE)
    assert [t.id for t in d.tenants] == ["acme", "globex"]
    assert [u.ref for u in d.users] == [
        "acme/1001",
        "acme/1002",
        "acme/1003",
        "acme/2001",
        "globex/3001",
    ]
    assert [d.id for d in d.devices] == ["hd3001", "hd3002", "hd3003", "gx4001"]
    assert d.devices[0].mac == "001565aa3001"


def test_every_problem_at_once_with_file_line_entry_and_field() -> None:
    found = problems("""\
tenants:
  - id: acme
    domain: acme.example
    timezone: Mars/Olympus
    colour: red
users:
  - tenant: acme
    extension: 1001
    name: Alice
    caller_id: "+4930123"
    pin: "1234"
  - tenant: nope
    extension: "1002"
    name: Bob
    caller_id: "+4930124"
devices:
  - id: hd1
    mac: "zz:15:65:aa:bb:01"
    vendor: cisco
    model: X
    tenant: acme
    sip_secret: short
    emergency_caller_id: "+4930"
""")
    assert found == [
        "dir.yaml:4: tenants[0] (acme): timezone: unknown time zone 'Mars/Olympus'",
        "dir.yaml:5: tenants[0] (acme): colour: unknown field (expected one of: id, domain, "
        "emergency_numbers, feature_codes, second_login, logout_asks_pin, max_login_seconds, "
        "daily_logout, timezone, cross_tenant_group, "
        "default_profile_keys, phone_profiles, language, extensions_spoken, outbound_peer, "
        "emergency_route, "
        "emergency_routes, "
        "emergency_callback_minutes, emergency_notify, location, sites, unavailable, "
        "emergency_webhook_secret, company_pin)",
        "dir.yaml:8: users[0] (acme/1001): extension: must be in quotes: unquoted, YAML reads "
        "it as a number",
        "dir.yaml:11: users[0] (acme/1001): pin: PIN must not be a sequence of consecutive digits",
        "dir.yaml:12: users[1] (nope/1002): tenant: no tenant 'nope' declared",
        "dir.yaml:18: devices[0] (hd1): mac: must be 12 hex digits, optionally separated by "
        "':', '-' or '.'",
        "dir.yaml:19: devices[0] (hd1): vendor: Input should be 'yealink', 'polycom' or 'snom'",
        "dir.yaml:22: devices[0] (hd1): sip_secret: String should have at least 12 characters",
    ]


def test_pin_policy_is_checked_with_the_users_extension() -> None:
    base = VALID_TENANT + "users:\n"
    user = '  - {{tenant: a, extension: "{ext}", name: U, caller_id: "+491", pin: "{pin}"}}\n'
    found = problems(
        base
        + user.format(ext="1001", pin="1234")
        + user.format(ext="1002", pin="7777")
        + user.format(ext="1003", pin="1003")
        + user.format(ext="1004", pin="12a4")
        + user.format(ext="1005", pin="4711")
    )
    assert found == [
        "dir.yaml:4: users[0] (a/1001): pin: PIN must not be a sequence of consecutive digits",
        "dir.yaml:5: users[1] (a/1002): pin: PIN must not repeat one digit",
        "dir.yaml:6: users[2] (a/1003): pin: PIN must not be the user's own extension",
        "dir.yaml:7: users[3] (a/1004): pin: PIN must contain digits only",
    ]


COMPANY = 'tenants:\n  - {id: a, domain: a.example, company_pin: "%s"}\nusers:\n'
COMPANY_USER = '  - {tenant: a, extension: "%s", name: U, caller_id: "+491"%s}\n'


def test_a_company_pin_is_every_hot_desk_users_pin() -> None:
    d = parse_directory(
        COMPANY % "2580"
        + COMPANY_USER % ("1001", "")
        + COMPANY_USER % ("1002", "")
        + COMPANY_USER % ("1003", ", hotdesk: false"),
        "dir.yaml",
    )
    assert [(u.extension, u.pin) for u in d.users] == [
        ("1001", "2580"),
        ("1002", "2580"),
        ("1003", None),
    ]
    assert d.company_pin_tenants == {"a"}
    assert "2580" not in repr(d) and "company_pin" not in d.tenants[0].model_dump_json()


def test_a_company_pin_follows_the_pin_policy_for_each_user_and_replaces_theirs() -> None:
    assert problems(COMPANY % "1234") == [
        "dir.yaml:2: tenants[0] (a): company_pin: PIN must not be a sequence of consecutive digits"
    ]
    found = problems(
        COMPANY % "2580" + COMPANY_USER % ("2580", "") + COMPANY_USER % ("1002", ', pin: "4711"')
    )
    assert found == [
        "dir.yaml:4: users[0] (a/2580): extension: company PIN: PIN must not be the user's own "
        "extension",
        "dir.yaml:5: users[1] (a/1002): pin: tenant 'a' has a company PIN: its hot-desk users "
        "have no PIN of their own",
    ]
    assert not any("4711" in p for p in found)


def test_an_unquoted_pin_is_refused_without_showing_it() -> None:
    found = problems(
        VALID_TENANT + 'users:\n  - {tenant: a, extension: "1", name: U, '
        'caller_id: "+491", pin: 0711}\n'
    )
    assert found == [
        "dir.yaml:4: users[0] (a/1): pin: must be in quotes: unquoted, YAML reads it as a number"
    ]
    assert not any("711" in p or "457" in p for p in found)


def test_duplicates_name_both_entries() -> None:
    found = problems("""\
tenants:
  - {id: a, domain: a.example}
  - {id: b, domain: a.example}
  - {id: a, domain: c.example}
users:
  - {tenant: a, extension: "100", name: X, caller_id: "+491", hotdesk_id: x}
  - {tenant: a, extension: "100", name: Y, caller_id: "+492"}
  - {tenant: b, extension: "100", name: Z, caller_id: "+493", hotdesk_id: x}
devices:
  - {id: d1, mac: "001565000001", vendor: yealink, model: T54W, tenant: a,
     sip_secret: 0123456789ab, emergency_caller_id: "+4930"}
  - {id: d1, mac: "00-15-65-00-00-01", vendor: polycom, model: VVX, tenant: b,
     sip_secret: 0123456789ab, emergency_caller_id: "+4930"}
""")
    assert found == [
        "dir.yaml:3: tenants[1] (b): domain: 'a.example' is already used by tenants[0] (a), line 2",
        "dir.yaml:4: tenants[2] (a): id: 'a' is already used by tenants[0] (a), line 2",
        "dir.yaml:7: users[1] (a/100): extension: a/100 is already used by users[0] (a/100), "
        "line 6",
        "dir.yaml:8: users[2] (b/100): hotdesk_id: 'x' is already used by users[0] (a/100), line 6",
        "dir.yaml:12: devices[1] (d1): id: 'd1' is already used by devices[0] (d1), line 10",
        "dir.yaml:12: devices[1] (d1): mac: 001565000001 is already used by devices[0] (d1), "
        "line 10",
    ]


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (
            '{login: "*7", logout: "*46", login_with_extension_prefix: "*77*"}',
            "login '*7' is a prefix of login_with_extension_prefix '*77*'; the phone would dial "
            "'*7' before the caller finishes",
        ),
        ('{login: "*45", logout: "*45"}', "login and logout are the same code '*45'"),
        ('{login: "45a"}', "login '45a' must be digits, * and # only"),
        ('{login: "11"}', "login '11' collides with emergency number '112'"),
    ],
)
def test_feature_codes_must_not_collide(codes: str, expected: str) -> None:
    found = problems(f"tenants:\n  - id: a\n    domain: a.example\n    feature_codes: {codes}\n")
    assert found == [f"dir.yaml:4: tenants[0] (a): feature_codes: {expected}"]


NAMESPACE = """\
tenants:
  - id: a
    domain: a.example
    feature_codes: {logout: "%s", login_with_extension_prefix: "*77*"}
users:
"""


def test_a_logout_code_may_lie_in_the_login_prefixs_namespace() -> None:
    users = COMPANY_USER % ("1001", "") + COMPANY_USER % ("50", "")
    d = parse_directory(NAMESPACE % "*77*5*" + users, "dir.yaml")
    codes = d.tenants[0].feature_codes
    assert codes.match("*77*5*") == FeatureCode("logout")
    assert codes.match("*77*50*") == FeatureCode("login_ext", "50")
    assert codes.match("*77*1001*") == FeatureCode("login_ext", "1001")


@pytest.mark.parametrize(
    ("code", "extension"),
    [
        ("*77*5*", "5"),  # the same string
        ("*77*5", "50"),  # dialled before *77*50* is finished
        ("*77*50*1", "50"),  # *77*50* matches before it is finished
    ],
)
def test_but_not_where_an_extension_could_be_mistaken_for_it(code: str, extension: str) -> None:
    found = problems(NAMESPACE % code + COMPANY_USER % (extension, ""))
    assert found == [
        f"dir.yaml:4: tenants[0] (a): feature_codes: logout {code!r} lies where "
        f"*77*{extension}* logs in extension {extension}: one could be taken for the other"
    ]


def test_emergency_numbers_are_digits() -> None:
    found = problems(
        'tenants:\n  - id: a\n    domain: a.example\n    emergency_numbers: ["112", "*4"]\n'
    )
    assert found == ["dir.yaml:4: tenants[0] (a): emergency_numbers: must be digits only: '*4'"]


def test_yaml_syntax_error_reports_file_and_line() -> None:
    assert problems("tenants:\n  - id: a\n   domain: x\n") == [
        "dir.yaml:3: YAML syntax error: did not find expected '-' indicator"
    ]


def test_a_key_written_twice_is_an_error() -> None:
    user = 'users:\n  - tenant: a\n    extension: "1"\n    name: U\n    caller_id: "+491"\n'
    found = problems(VALID_TENANT + user + '    pin: "4711"\n    pin: "4712"\n')
    assert found == [
        "dir.yaml:9: users[0] (a/1): pin: written twice in one mapping (which one was meant?)"
    ]
    # A second section of the same name would silently replace the first.
    assert problems(VALID_TENANT + "users: []\n" + VALID_TENANT) == [
        "dir.yaml:4: tenants: written twice in one mapping (which one was meant?)"
    ]


def test_references_to_an_invalid_tenant_do_not_cascade() -> None:
    found = problems(
        "tenants:\n  - {id: a, domain: a.example, second_login: never}\n"
        'users:\n  - {tenant: a, extension: "1", name: U, caller_id: "+491"}\n'
    )
    assert found == [
        "dir.yaml:2: tenants[0] (a): second_login: Input should be 'auto_logout' or 'deny'"
    ]


def test_file_structure_problems() -> None:
    assert problems("- a\n- b\n") == [
        "dir.yaml: must be a mapping with the sections tenants, users, devices, peers"
    ]
    assert problems("users: []\n") == ["dir.yaml:1: tenants: required section missing"]
    assert problems(VALID_TENANT + "phones: []\nusers: {a: 1}\ndevices: [hd1]\n") == [
        "dir.yaml:3: phones: unknown section (expected tenants, users, devices, peers)",
        "dir.yaml:4: users: must be a list of entries",
        "dir.yaml:5: devices[0]: must be a mapping of fields",
    ]


def test_cross_entry_rules() -> None:
    found = problems("""\
tenants:
  - {id: a, domain: A.Example}
  - {id: b, domain: b.example, cross_tenant_group: a}
users:
  - {tenant: a, extension: "100", name: X, caller_id: "+491"}
devices:
  - {id: "100", mac: "0015.65aa.bb01", vendor: yealink, model: T54W, tenant: a,
     sip_secret: 0123456789ab, emergency_caller_id: "+4930"}
""")
    assert found == [
        "dir.yaml:2: tenants[0] (a): domain: must be a lowercase host name or address",
        "dir.yaml:3: tenants[1] (b): cross_tenant_group: 'a' is another tenant's id; pick a "
        "name no tenant uses",
        "dir.yaml:7: devices[0] (100): id: '100' is also an extension of tenant 'a'; devices "
        "and users share the tenant's SIP user names",
    ]


@pytest.mark.parametrize("mac", ["00:15:65:AA:BB:01", "00-15-65-aa-bb-01", "0015.65aa.bb01"])
def test_mac_addresses_are_normalised(mac: str) -> None:
    text = edited(('mac: "00:15:65:aa:30:01"', f'mac: "{mac}"'))
    assert parse_directory(text, "d.yaml").devices[0].mac == "001565aabb01"


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError) as missing:
        load_directory(tmp_path / "nope.yaml")
    assert str(missing.value) == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("tenants: []\n# M\xfcller\n".encode("latin-1"))
    with pytest.raises(DirectoryError) as binary:
        load_directory(latin1)
    assert str(binary.value) == f"{latin1}: not UTF-8 text (byte 15)"
