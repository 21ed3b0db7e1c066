"""docs/CONFIG.md against the declared config keys, like Datasette's
`test_settings_are_documented`: every key of a declared core section is in a table there,
with its declared default, and no table documents a core key that is not declared.

[auth] is not a declared section (its keys are documented with the web plugin)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from nvr_edge import ConfigKeyDoc, describe_section
from nvr_edge.config import DECLARED_SECTIONS

CONFIG_MD = Path(__file__).resolve().parents[1] / "docs" / "CONFIG.md"
REQUIRED, NONE = object(), object()  # the words docs write instead of a value


def documented_defaults(markdown: str) -> dict[str, str]:
    """Key -> its default cell, from each table row whose first cell names keys in
    backquotes. A row of several keys (`a`, `b` | 0, 5) gives them its defaults in order."""
    found: dict[str, str] = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3:
            continue
        keys = re.findall(r"`([^`]+)`", cells[0])
        defaults = cells[1].split(", ") if len(keys) > 1 else [cells[1]]
        if len(defaults) != len(keys):
            defaults = [cells[1]] * len(keys)  # compared whole: it then matches none
        found.update(zip(keys, defaults, strict=True))
    return found


def shown_value(cell: str) -> Any:
    """What a default cell says: `required`, `none`, a TOML value (180, "x", true), else
    its text (a path, a computed default)."""
    text = cell.removeprefix("`").removesuffix("`")
    if text in ("required", "none"):
        return REQUIRED if text == "required" else NONE
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def declared_value(doc: ConfigKeyDoc) -> Any:
    if doc.required:
        return REQUIRED
    if doc.declared.shown is not None:
        return doc.declared.shown
    if doc.default is None:
        return NONE
    if isinstance(doc.default, Path | Enum):
        return str(doc.default)
    return list(doc.default) if isinstance(doc.default, tuple) else doc.default


def same(shown: Any, declared: Any) -> bool:
    if isinstance(shown, bool) or isinstance(declared, bool):
        return shown is declared  # true is no 1
    return bool(shown == declared)


def documentation_problems(markdown: str, sections: Mapping[str, type]) -> list[str]:
    """Every declared key missing from `markdown` or shown with another default, and every
    documented key of those sections that is not declared."""
    documented = documented_defaults(markdown)
    declared = {doc.key: doc for path, cls in sections.items()
                for doc in describe_section(cls, path)}
    problems = []
    for key, doc in declared.items():
        if key not in documented:
            problems.append(f"{key}: not documented")
        elif not same(shown_value(documented[key]), declared_value(doc)):
            problems.append(f"{key}: documented default {documented[key]}, declared "
                            f"{'required' if doc.required else repr(doc.default)}")
    prefixes = tuple(f"{path}." for path in sections)
    problems += [f"{key}: documented but not declared" for key in documented
                 if key.startswith(prefixes) and key not in declared]
    return problems


def test_every_declared_key_is_documented_with_its_default() -> None:
    assert documentation_problems(CONFIG_MD.read_text(), DECLARED_SECTIONS) == []


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("| `storage.segment_seconds` | 180 |", "| `storage.segment_seconds` | 120 |",
     "storage.segment_seconds: documented default 120, declared 180"),
    ("| 0, 5 | the cache's", "| 0, 10 | the cache's",
     "storage.cache_min_free_percent: documented default 10, declared 5.0"),
    ("| `cameras[].enabled` | true |", "| `cameras[].enabled` | 1 |",
     "cameras[].enabled: documented default 1, declared True"),
    ("| `device.id` | required |", '| `device.id` | "box" |',
     'device.id: documented default "box", declared required'),
    ("| `cameras[].sub` | none |", '| `cameras[].sub` | `""` |',
     'cameras[].sub: documented default `""`, declared None'),
])
def test_the_check_fails_on_a_wrong_default(old: str, new: str, problem: str) -> None:
    good = CONFIG_MD.read_text()
    assert old in good
    assert documentation_problems(good.replace(old, new), DECLARED_SECTIONS) == [problem]


def test_the_check_fails_on_a_missing_or_a_stale_key() -> None:
    good = CONFIG_MD.read_text()
    old = "| `recording.fragment_ms` |"
    assert old in good
    assert documentation_problems(good.replace(old, "| `recording.fragment_s` |"),
                                  DECLARED_SECTIONS) == [
        "recording.fragment_ms: not documented",
        "recording.fragment_s: documented but not declared",
    ]


def test_defaults_compare_by_value_as_docs_write_them() -> None:
    assert shown_value("`/var/lib/nvr-edge/cache`") == "/var/lib/nvr-edge/cache"
    assert shown_value('`"always"`') == "always"
    assert same(shown_value("10"), 10.0) and same(shown_value("2.0"), 2.0)
    assert not same(shown_value('"10"'), 10)
    assert same(shown_value("`[]`"), [])
