"""Desk locations in the directory: inheritance from tenant and site,
validation with file, line, entry and field, and the PIDF-LO they become."""

from services.directory.load import parse_directory
from services.kernel.location import Location, pidf_lo
from tests.directory.support import problems
from tests.support.pidf_lo import civic_address, point, validated_pidf_lo

TENANT = """\
tenants:
  - id: acme
    domain: acme.example
    location: {country: DE, a3: Berlin, street: Friedrichstraße, number: "123"}
    sites:
      annex: {street: Unter den Linden, number: "5", building: Annex}
"""
DEVICE = """\
  - id: hd{n}
    mac: "00:15:65:aa:30:0{n}"
    vendor: yealink
    model: T54W
    tenant: acme
    sip_secret: secret-of-hd{n}-000
    emergency_caller_id: "+4930123450100"
"""


def directory(*devices: str, tenant: str = TENANT) -> str:
    return tenant + "devices:\n" + "".join(devices)


def device(n: int, extra: str = "") -> str:
    return DEVICE.format(n=n) + extra


def test_a_desk_merges_its_fields_over_its_site_and_tenant() -> None:
    d = parse_directory(
        directory(
            device(1, '    location: {floor: "2", room: "2.01"}\n'),
            device(2, '    site: annex\n    location: {floor: "1"}\n'),
            device(3),
        ),
        "dir.yaml",
    )
    one, two, three = (x.location for x in d.devices)
    assert one == Location(
        country="DE", a3="Berlin", street="Friedrichstraße", number="123", floor="2", room="2.01"
    )
    assert two == Location(
        country="DE",
        a3="Berlin",
        street="Unter den Linden",
        number="5",
        building="Annex",
        floor="1",
    )
    assert three == Location(country="DE", a3="Berlin", street="Friedrichstraße", number="123")


def test_location_problems_are_located() -> None:
    found = problems(
        directory(
            device(1, "    site: basement\n"),
            device(2, "    location: {country: de}\n"),
            device(3, "    location: {latitude: 52.5}\n"),
            device(4, '    location: {floor: "1\\n2"}\n'),
            tenant=TENANT + "    emergency_routes: {DE: [nobody]}\n",
        )
    )
    assert found == [
        "dir.yaml:7: tenants[0] (acme): emergency_routes: no peer 'nobody' declared",
        "dir.yaml:16: devices[0] (hd1): site: tenant 'acme' has no site 'basement' "
        "(its sites: annex)",
        "dir.yaml:24: devices[1] (hd2): location.country: must be an ISO 3166-1 country code: "
        "two capital letters",
        "dir.yaml:32: devices[2] (hd3): location: latitude and longitude go together",
        "dir.yaml:40: devices[3] (hd4): location.floor: must be one line of text (no control "
        "characters)",
    ]


def test_a_merged_location_must_be_dispatchable() -> None:
    bare = "tenants:\n  - id: acme\n    domain: acme.example\n"
    found = problems(directory(device(1, '    location: {floor: "3"}\n'), tenant=bare))
    assert found == [
        "dir.yaml:12: devices[0] (hd1): location: the desk's location (its own fields over its "
        "site's and tenant's) has no country",
    ]


def test_the_pidf_lo_names_the_desk_and_validates() -> None:
    location = Location(
        country="DE", street="Friedrichstraße", number="1 & 2", room="<3>", latitude=1, longitude=2
    )
    root = validated_pidf_lo(pidf_lo(location, "hd1", "acme.example").encode())
    assert root.get("entity") == "pres:hd1@acme.example"
    assert civic_address(root) == {
        "country": "DE",
        "RD": "Friedrichstraße",
        "HNO": "1 & 2",
        "ROOM": "<3>",
    }
    assert point(root) == (1.0, 2.0)
