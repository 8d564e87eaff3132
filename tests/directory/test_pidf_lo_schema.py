"""The PIDF-LO test helper really enforces the RFC 3863/4479/4119/5139 schemas."""

from __future__ import annotations

import pytest

from tests.support.pidf_lo import civic_address, point, validated_pidf_lo

CIVIC = """\
        <ca:civicAddress xml:lang="de">
          <ca:country>DE</ca:country>
          <ca:A1>Berlin</ca:A1>
          <ca:A3>Berlin</ca:A3>
          <ca:RD>Friedrichstraße</ca:RD>
          <ca:HNO>123</ca:HNO>
          <ca:LOC>East wing</ca:LOC>
          <ca:FLR>3</ca:FLR>
          <ca:PC>10117</ca:PC>
          <ca:ROOM>3.14</ca:ROOM>
        </ca:civicAddress>"""

TEMPLATE = """\
<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
    xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
    xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"
    xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
    entity="pres:hd3001@hotdesk.local">
  <dm:device id="hd3001">
    <gp:geopriv>
      <gp:location-info>
{civic}
      </gp:location-info>
      <gp:usage-rules>
        <gbp:retransmission-allowed>false</gbp:retransmission-allowed>
      </gp:usage-rules>
      <gp:method>Manual</gp:method>
    </gp:geopriv>
    <dm:deviceID>mac:00:04:13:aa:bb:cc</dm:deviceID>
    <dm:timestamp>2026-01-05T09:00:00Z</dm:timestamp>
  </dm:device>
</presence>
"""


def _doc(civic: str = CIVIC) -> bytes:
    return TEMPLATE.format(civic=civic).encode()


def test_valid_rfc5491_document() -> None:
    root = validated_pidf_lo(_doc())
    assert civic_address(root) == {
        "country": "DE",
        "A1": "Berlin",
        "A3": "Berlin",
        "RD": "Friedrichstraße",
        "HNO": "123",
        "LOC": "East wing",
        "FLR": "3",
        "PC": "10117",
        "ROOM": "3.14",
    }
    assert point(root) is None


def test_gml_point_is_accepted_laxly_and_read() -> None:
    gml = (
        '<gml:Point xmlns:gml="http://www.opengis.net/gml" srsName="urn:ogc:def:crs:EPSG::4326">'
        "<gml:pos>52.5200 13.3880</gml:pos></gml:Point>"
    )
    root = validated_pidf_lo(_doc(gml))
    assert point(root) == (52.52, 13.388)
    assert civic_address(root) == {}


def test_misspelled_civic_element_is_rejected() -> None:
    with pytest.raises(AssertionError, match="FLOOR"):
        validated_pidf_lo(_doc(CIVIC.replace("ca:FLR>", "ca:FLOOR>")))


def test_civic_element_order_violation_is_rejected() -> None:
    # RFC 5139 sequence is ... LOC, FLR, NAM, PC, BLD, UNIT, ROOM ...; ROOM before FLR breaks it.
    room = "\n          <ca:ROOM>3.14</ca:ROOM>"
    swapped = CIVIC.replace(room, "").replace("<ca:FLR>", room.strip() + "<ca:FLR>")
    assert swapped.index("<ca:ROOM>") < swapped.index("<ca:FLR>")
    with pytest.raises(AssertionError, match=r"FLR.*not expected"):
        validated_pidf_lo(_doc(swapped))


def test_device_without_device_id_is_rejected() -> None:
    doc = _doc().replace(b"<dm:deviceID>mac:00:04:13:aa:bb:cc</dm:deviceID>", b"")
    with pytest.raises(AssertionError, match="deviceID"):
        validated_pidf_lo(doc)


def test_malformed_xml_is_rejected() -> None:
    with pytest.raises(AssertionError, match="not well-formed"):
        validated_pidf_lo(_doc()[:-20])
