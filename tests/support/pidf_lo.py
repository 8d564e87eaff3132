"""PIDF-LO test helper: schema validation (RFC 3863/4479/4119/5139) and small accessors.

Everything is loaded from the sibling ``xsd`` folder; neither parsing nor schema loading
touches the network, and entities / DTDs are never resolved.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).with_name("xsd")
WRAPPER_XSD = XSD_DIR / "pidf-lo.xsd"

NS_PIDF = "urn:ietf:params:xml:ns:pidf"
NS_DM = "urn:ietf:params:xml:ns:pidf:data-model"
NS_GP = "urn:ietf:params:xml:ns:pidf:geopriv10"
NS_CA = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
NS_GML = "http://www.opengis.net/gml"


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


@cache
def _schema() -> etree.XMLSchema:
    schema_doc = etree.parse(str(WRAPPER_XSD), _safe_parser())
    return etree.XMLSchema(schema_doc)


def validated_pidf_lo(document: bytes) -> etree._Element:
    """Parse ``document`` and validate it against the combined PIDF-LO schema set.

    Raises AssertionError (with libxml2's error lines) if the document is malformed or invalid.
    """
    try:
        root = etree.fromstring(document, _safe_parser())
    except etree.XMLSyntaxError as exc:
        lines = str(exc.error_log) or str(exc)
        raise AssertionError(f"PIDF-LO is not well-formed XML:\n{lines}") from exc
    schema = _schema()
    if not schema.validate(root):
        lines = str(schema.error_log)
        raise AssertionError(f"PIDF-LO fails schema validation:\n{lines}")
    return root


def civic_address(root: etree._Element) -> dict[str, str]:
    """Children of the first ca:civicAddress, keyed by local name (country, A1, RD, FLR, ...)."""
    found = root.find(f".//{{{NS_CA}}}civicAddress")
    if found is None:
        return {}
    result: dict[str, str] = {}
    for child in found:
        if not isinstance(child.tag, str):
            continue  # comments / processing instructions
        result[etree.QName(child).localname] = (child.text or "").strip()
    return result


def point(root: etree._Element) -> tuple[float, float] | None:
    """(first, second) coordinate of the first gml:Point/gml:pos, e.g. (lat, lon) in EPSG 4326."""
    pos = root.find(f".//{{{NS_GML}}}Point/{{{NS_GML}}}pos")
    if pos is None or not pos.text:
        return None
    parts = pos.text.split()
    if len(parts) < 2:
        raise AssertionError(f"gml:pos needs two coordinates, got {pos.text!r}")
    return float(parts[0]), float(parts[1])
