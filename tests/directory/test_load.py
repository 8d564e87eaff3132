"""Validation of directory files: every problem at once, each located."""

from pathlib import Path

import pytest

from services.directory.load import DirectoryError, load_directory, parse_directory

EXAMPLE = Path(__file__).parents[2] / "examples" / "directory.yaml"


def problems(text: str) -> list[str]:
    with pytest.raises(DirectoryError) as exc:
        parse_directory(text, "dir.yaml")
    return exc.value.problems


def test_example_is_valid() -> None:
    d = load_directory(EXAMPLE)
    assert {t.id for t in d.tenants} == {"acme", "globex"}
    assert len(d.users) == 5 and len(d.devices) == 4
    assert d.devices[0].mac == "001565aa3001"


def test_every_problem_is_reported_with_file_entry_and_field() -> None:
    found = problems("""
tenants:
  - id: acme
    domain: acme.example
    timezone: Mars/Olympus
users:
  - tenant: acme
    extension: "1001"
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
    assert (
        "dir.yaml: tenants[0] (acme, line 3): timezone: unknown time zone 'Mars/Olympus'" in found
    )
    assert any(
        p.startswith("dir.yaml: users[0] (acme/1001, line 7): pin: PIN must not be a sequence")
        for p in found
    )
    assert "dir.yaml: users[1] (nope/1002, line 12): tenant: no tenant 'nope' in this file" in found
    device = [p for p in found if p.startswith("dir.yaml: devices[0] (hd1, line 17)")]
    assert {p.split(": ")[2] for p in device} == {"mac", "vendor", "sip_secret"}
    assert len(found) == 6


def test_duplicates_and_namespace_clashes() -> None:
    found = problems("""
tenants:
  - {id: a, domain: a.example}
  - {id: b, domain: a.example, cross_tenant_group: a}
users:
  - {tenant: a, extension: "100", name: X, caller_id: "+491", hotdesk_id: x}
  - {tenant: a, extension: "100", name: Y, caller_id: "+492", hotdesk_id: x}
devices:
  - {id: "100", mac: "001565000001", vendor: yealink, model: T54W, tenant: a,
     sip_secret: 0123456789ab, emergency_caller_id: "+4930"}
  - {id: d2, mac: "00-15-65-00-00-01", vendor: polycom, model: VVX, tenant: b,
     sip_secret: 0123456789ab, emergency_caller_id: "+4930"}
""")
    text = "\n".join(found)
    assert "domain: 'a.example' is used by more than one tenant" in text
    assert "cross_tenant_group: 'a' is another tenant's id" in text
    assert "users: a/100 is declared more than once" in text
    assert "hotdesk_id: 'x' is used by more than one user" in text
    assert "mac: 001565000001 is used by more than one device" in text
    assert "'100' is also an extension of tenant 'a'" in text


def test_feature_codes_must_not_be_prefixes_of_each_other() -> None:
    found = problems("""
tenants:
  - id: a
    domain: a.example
    feature_codes: {login: "*7", logout: "*46", login_with_extension_prefix: "*77*"}
""")
    assert found == [
        "dir.yaml: tenants[0] (a, line 3): feature_codes: login '*7' is a prefix of "
        "login_with_extension_prefix '*77*'; a phone would dial '*7' before the caller finishes"
    ]


def test_yaml_syntax_error_has_a_line() -> None:
    assert problems("tenants:\n  - id: a\n   domain: x\n") == [
        "dir.yaml:3: YAML syntax error: expected <block end>, but found '<block mapping start>'"
    ]


def test_unknown_keys_are_refused() -> None:
    found = problems("tenants:\n  - {id: a, domain: a.example, colour: red}\nphones: []\n")
    assert "dir.yaml: phones: unknown section (expected tenants, users, devices)" in found
    assert "dir.yaml: tenants[0] (a, line 2): colour: Extra inputs are not permitted" in found
