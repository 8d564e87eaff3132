"""Where a desk is, for emergency calls: a civic address (RFC 5139) with
optional coordinates, and the PIDF-LO document (RFC 4119, profiled by
RFC 5491) that carries it by value in an emergency INVITE (RFC 6442).

A tenant, a site of a tenant and a device may each give a location; a
device's location is theirs merged field by field (the device's own fields
win over its site's, the site's over the tenant's), so a site names the
building once and each desk adds its floor and room.
"""

from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from pydantic import Field, model_validator

from services.kernel.records import Record

# Free text that goes into XML and into SIP MESSAGE bodies: printable, one line.
TEXT = r"^[^\x00-\x1f\x7f]+$"
COUNTRY = r"^[A-Z]{2}$"  # ISO 3166-1 alpha-2
_Text = Field(default=None, min_length=1, max_length=128, pattern=TEXT)

# The directory's names for RFC 5139's elements, in the order its schema
# requires them inside <civicAddress>.
CIVIC_ELEMENTS: tuple[tuple[str, str], ...] = (
    ("country", "country"),
    ("a1", "A1"),
    ("a2", "A2"),
    ("a3", "A3"),
    ("a4", "A4"),
    ("a5", "A5"),
    ("a6", "A6"),
    ("street_prefix", "PRD"),
    ("street", "RD"),
    ("street_type", "STS"),
    ("street_suffix", "POD"),
    ("number", "HNO"),
    ("number_suffix", "HNS"),
    ("landmark", "LMK"),
    ("text", "LOC"),
    ("floor", "FLR"),
    ("name", "NAM"),
    ("postal_code", "PC"),
    ("building", "BLD"),
    ("unit", "UNIT"),
    ("room", "ROOM"),
    ("seat", "SEAT"),
)


class Location(Record):
    """A location as the directory writes it. Every field is optional here
    (a site or a desk may give only part of it); ``incomplete()`` says
    whether the merged result is enough to dispatch to."""

    country: str | None = Field(default=None, pattern=COUNTRY)
    a1: str | None = _Text  # national subdivision (state, Land)
    a2: str | None = _Text  # county, district
    a3: str | None = _Text  # city
    a4: str | None = _Text  # city division
    a5: str | None = _Text  # neighbourhood
    a6: str | None = _Text  # group of streets (or the street, in some countries)
    street: str | None = _Text
    street_prefix: str | None = _Text  # leading direction (PRD)
    street_suffix: str | None = _Text  # trailing direction (POD)
    street_type: str | None = _Text  # "Avenue", "Street" where kept apart (STS)
    number: str | None = _Text  # house number (HNO)
    number_suffix: str | None = _Text  # HNS
    postal_code: str | None = _Text
    building: str | None = _Text
    floor: str | None = _Text
    unit: str | None = _Text
    room: str | None = _Text
    seat: str | None = _Text
    name: str | None = _Text  # the organisation at the address (NAM)
    landmark: str | None = _Text
    text: str | None = _Text  # anything else a responder needs (LOC)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates(self) -> "Location":
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together")
        return self

    def over(self, base: "Location | None") -> "Location":
        """This location's fields over ``base``'s."""
        if base is None:
            return self
        merged = base.model_dump(exclude_none=True) | self.model_dump(exclude_none=True)
        return Location.model_validate(merged)

    @property
    def civic(self) -> dict[str, str]:
        """RFC 5139 element name -> value, in schema order."""
        values = self.model_dump(exclude_none=True)
        return {element: values[name] for name, element in CIVIC_ELEMENTS if name in values}

    def incomplete(self) -> str | None:
        """Why a responder could not be sent here (None: dispatchable):
        a country and a street, state, county, city or street group, or
        coordinates (a city division or neighbourhood alone is not)."""
        if self.latitude is not None:
            return None
        if self.country is None:
            return "has no country"
        if not (self.street or self.a1 or self.a2 or self.a3 or self.a6):
            return "has no street (nor a1, a2, a3 or a6) and no coordinates"
        return None

    def summary(self) -> str:
        """One line for people (notification messages and logs)."""
        parts = [
            " ".join(p for p in (self.street, self.number) if p),
            " ".join(p for p in (self.postal_code, self.a3) if p),
            self.country or "",
            f"building {self.building}" if self.building else "",
            f"floor {self.floor}" if self.floor else "",
            f"room {self.room}" if self.room else "",
            self.text or "",
        ]
        if self.latitude is not None:
            parts.append(f"{self.latitude:.6f},{self.longitude:.6f}")
        return ", ".join(p for p in parts if p)


def merged(*layers: Location | None) -> Location | None:
    """The layers merged, later ones winning field by field (None if all
    are None)."""
    result: Location | None = None
    for layer in layers:
        if layer is not None:
            result = layer.over(result)
    return result


_NAMESPACES = (
    'xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
    'xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy" '
    'xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" '
    'xmlns:gml="http://www.opengis.net/gml"'
)


@lru_cache(maxsize=4096)
def pidf_lo(location: Location, device: str, domain: str) -> str:
    """The PIDF-LO document for ``device`` (of SIP domain ``domain``) at
    ``location``: one <dm:device> per location form (civic, geodetic), as
    RFC 5491 recommends, usage rules that let the emergency network pass
    it on, method Manual (the directory said so). One line: it travels in
    Kamailio's memory and in a SIP body."""
    shapes: list[tuple[str, str]] = []
    civic = location.civic
    if civic:
        body = "".join(f"<ca:{k}>{escape(v)}</ca:{k}>" for k, v in civic.items())
        shapes.append(("civic", f"<ca:civicAddress>{body}</ca:civicAddress>"))
    if location.latitude is not None:
        pos = f"{location.latitude:.6f} {location.longitude:.6f}"
        shapes.append(
            (
                "geo",
                f'<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{pos}</gml:pos>'
                "</gml:Point>",
            )
        )
    devices = "".join(
        f"<dm:device id={quoteattr(f'{_xml_id(device)}-{kind}')}><gp:geopriv>"
        f"<gp:location-info>{shape}</gp:location-info>"
        "<gp:usage-rules><gbp:retransmission-allowed>true</gbp:retransmission-allowed>"
        "</gp:usage-rules><gp:method>Manual</gp:method></gp:geopriv>"
        f"<dm:deviceID>{escape(_device_urn(device))}</dm:deviceID></dm:device>"
        for kind, shape in shapes
    )
    entity = quoteattr(f"pres:{device}@{domain}")
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{head}<presence {_NAMESPACES} entity={entity}>{devices}</presence>"


def _xml_id(device: str) -> str:
    """An xs:ID: starts with a letter (device ids may start with a digit)."""
    return "d-" + device


def _device_urn(device: str) -> str:
    """RFC 4479's deviceID is a URN; the edge's device ids are unique within
    it."""
    return f"urn:x-hotdesk:device:{device}"


def location_json(location: Location | None) -> str:
    """As the directory stores it ('' for none)."""
    return location.model_dump_json(exclude_none=True) if location is not None else ""
