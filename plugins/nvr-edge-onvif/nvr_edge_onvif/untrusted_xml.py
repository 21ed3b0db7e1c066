"""XML from devices on the network: bounded, without DTDs, read by local names.

Cameras disagree on namespace prefixes (`d:`, `wsdd:`, none) and sometimes on namespace
versions, so elements are matched by local name only. A DTD is refused outright: no ONVIF
message has one, and entity expansion is the classic way to blow up a parser.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

MAX_DEPTH = 64


class UntrustedXmlError(ValueError):
    """The bytes are not XML we agree to read."""


def parse(data: bytes, limit: int) -> ET.Element:
    if len(data) > limit:
        raise UntrustedXmlError(f"reply of {len(data)} bytes is over the {limit}-byte limit")
    try:
        # decoded here so that a declared encoding (UTF-16) cannot hide a DTD from the check
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UntrustedXmlError("reply is not UTF-8") from exc
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise UntrustedXmlError("reply holds a DTD")
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError) as exc:
        raise UntrustedXmlError(f"not well-formed XML: {exc}") from exc
    if _depth(root) > MAX_DEPTH:
        raise UntrustedXmlError(f"reply nests deeper than {MAX_DEPTH} elements")
    return root


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def find_all(root: ET.Element, name: str) -> Iterator[ET.Element]:
    """Every element below `root` (and itself) whose local name is `name`."""
    return (e for e in root.iter() if isinstance(e.tag, str) and local(e.tag) == name)


def find(root: ET.Element, name: str) -> ET.Element | None:
    return next(find_all(root, name), None)


def children(parent: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in parent if isinstance(e.tag, str) and local(e.tag) == name]


def text(root: ET.Element | None, name: str, default: str = "") -> str:
    """The stripped text of the first `name` element under `root`."""
    if root is None:
        return default
    found = find(root, name)
    return (found.text or "").strip() if found is not None else default


def _depth(root: ET.Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in element)
    return deepest
