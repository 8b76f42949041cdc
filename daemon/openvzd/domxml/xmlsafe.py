"""Safe parsing and the small helpers every domxml module shares.

Parsing is safe by construction: no DTD, no entities, no network, a size limit.
"""

from __future__ import annotations

from lxml import etree

from openvzd.vz.errors import bad_argument
from openvzd.vz.spec import whole_number

MAX_XML_BYTES = 1 << 20
OPENVZ_MAC_PREFIX = "00:18:51"
_UNITS = {
    "b": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 10**6,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def safe_parse(xml: str, what: str) -> etree._Element:
    """The root of xml, refused when oversized, with a DOCTYPE (XXE, billion
    laughs) or not well-formed."""
    data = xml.encode()
    if len(data) > MAX_XML_BYTES:
        raise bad_argument(f"{what} is larger than {MAX_XML_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise bad_argument(f"{what} may not have a DOCTYPE or entities; remove them")
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        raise bad_argument(f"{what} is not well-formed: {err}") from None


def size_kib(element: etree._Element, where: str) -> int:
    unit = (element.get("unit") or "KiB").lower()
    if unit not in _UNITS:
        raise bad_argument(f"{where}: unknown unit {element.get('unit')!r}; use KiB, MiB or GiB")
    text = (element.text or "").strip()
    value = whole_number(text)
    if value is None:
        raise bad_argument(f"{where}: {text!r} is not a whole number")
    # Rounded up, as libvirt does: a size in bytes never becomes 0 ("not set").
    return -(-value * _UNITS[unit] // 1024)


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element
