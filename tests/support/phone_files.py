"""Reading rendered phone files back the way the phones read them."""

import xml.etree.ElementTree as ET


def yealink_values(text: str) -> dict[str, str]:
    """A Yealink .cfg (``#!version`` line, ``key = value`` lines, # comments)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not a key = value line: {line!r}"
        assert name.strip() not in values, f"{name.strip()} set twice"
        values[name.strip()] = value.strip()
    return values


def polycom_values(text: str) -> dict[str, str]:
    """Every parameter of a Polycom XML config (attributes of any element)."""
    values: dict[str, str] = {}
    for element in ET.fromstring(text).iter():
        for name, value in element.attrib.items():
            assert name not in values, f"{name} set twice"
            values[name] = value
    return values
