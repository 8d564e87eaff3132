"""Reading rendered phone files back the way the phones read them."""

import xml.etree.ElementTree as ET


def yealink_values(text: str) -> dict[str, str]:
    """A Yealink .cfg (``#!version`` line, ``key = value`` lines, # comments);
    no key may appear twice."""
    lines = text.splitlines()
    assert lines[0] == "#!version:1.0.0.1", lines[0]
    values: dict[str, str] = {}
    for line in lines[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not a key = value line: {line!r}"
        assert name.strip() not in values, f"{name.strip()} set twice"
        values[name.strip()] = value.strip()
    return values


def polycom_values(text: str) -> dict[str, str]:
    """Every parameter of a Polycom XML config (attributes of any element);
    none may appear twice."""
    values: dict[str, str] = {}
    for element in ET.fromstring(text).iter():
        for name, value in element.attrib.items():
            assert name not in values, f"{name} set twice"
            values[name] = value
    return values
