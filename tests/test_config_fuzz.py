"""Config parsing under hostile input: any value for any documented key, any document, any
file gives a config or one ConfigError naming the key; never another exception."""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr_edge.config import CORE_SECTIONS, ConfigError, load_config, parse_config
from nvr_edge.config_store import merge_patch, restore_secrets
from nvr_edge.plugins import ENTRY_POINT_GROUP, make_plugin_manager, section_readers_of
from tests.test_config_docs import CONFIG_MD, documented_defaults


def installed_readers() -> dict[str, Any]:
    """The core's and the installed plugins' sections (the suite turns autoload off)."""
    pm = make_plugin_manager(load_entry_points=False)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return section_readers_of(pm)


def section_of(key: str) -> str:
    return key.split(".")[0].removesuffix("[]")


READERS = installed_readers()
KEYS = sorted(key for key in documented_defaults(CONFIG_MD.read_text())
              if section_of(key) in {*CORE_SECTIONS, *READERS})
CAMERA = {"id": "a", "main": "rtsp://h/x"}
REQUIRED = {"mqtt": {"url": "mqtt://h"}}  # a table's required keys, beside the one tried

# What TOML can hold, with the shapes that break naive readers: control characters, a NUL,
# an unknown user's home, unencoded '@', huge and non-finite numbers, nested tables, dates.
NASTY: list[Any] = ["", "a\n", "a\x00b", "~nosuchuser/x", "x" * 5000, "rtsp://u:p@ss@h/x",
                    "RTSP://h/x", "rtsp://h/x\n", "mqtt://h:1883", "rtmp://h/a/b", math.inf,
                    math.nan, -0.0, 10**30, -1, [], {}, [{}], {"a": {"b": 1}},
                    dt.date(2026, 1, 1), dt.time(1, 2)]
toml_scalars = (st.text(max_size=40) | st.booleans() | st.integers() | st.floats()
                | st.sampled_from(NASTY)
                | st.datetimes().map(lambda d: d.replace(tzinfo=dt.UTC)) | st.dates())
toml_values = st.recursive(
    toml_scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3), max_leaves=12)


def document_with(key: str, value: Any) -> dict[str, Any]:
    """A minimal valid document with `key` (`recording.retry.max_retries`,
    `cameras[].main`) set to `value`."""
    doc: dict[str, Any] = {"device": {"id": "box"}}
    if key.startswith("cameras[]."):
        doc["cameras"] = [{**CAMERA, key.split(".", 1)[1]: value}]
        return doc
    *tables, name = key.split(".")
    doc.update({tables[0]: dict(REQUIRED.get(tables[0], {}))})
    table = doc
    for part in tables:
        table = table.setdefault(part, {})
    table[name] = value
    return doc


def expected_path(key: str) -> str:
    return key.replace("cameras[].", "cameras[0].")


def check_value(key: str, value: Any) -> None:
    try:
        parse_config(document_with(key, value), readers=READERS)
    except ConfigError as exc:
        table = expected_path(key).rpartition(".")[0]
        # a rule across keys may name the other key of the pair (max_delay < initial); a
        # key that is a table of entries ([onvif.adopted]) or an array of tables
        # ([[rtsp.users]]) names the entry at fault
        path = expected_path(key)
        assert exc.key == path or exc.key.rpartition(".")[0] in (table, path) \
            or exc.key.startswith((f"{path}[", f"{path}.")), (key, exc.key, str(exc))
        assert exc.problem


def test_every_nasty_value_for_every_key_is_taken_or_refused_naming_it() -> None:
    for key in KEYS:
        for value in NASTY:
            check_value(key, value)


@settings(max_examples=400)
@given(key=st.sampled_from(KEYS), value=toml_values)
def test_any_value_for_any_key_is_taken_or_refused_naming_it(key: str, value: Any) -> None:
    check_value(key, value)


documents = st.dictionaries(
    st.sampled_from([*CORE_SECTIONS, *READERS]) | st.text(max_size=8),
    toml_values | st.dictionaries(st.sampled_from([k.split(".")[-1] for k in KEYS]),
                                  toml_values, max_size=4),
    max_size=6)


@settings(max_examples=400)
@given(documents)
def test_any_document_gives_a_config_or_a_config_error(document: dict[str, Any]) -> None:
    try:
        parse_config(document, readers=READERS)
    except ConfigError as exc:
        assert exc.problem


@settings(max_examples=200)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_file_gives_a_config_or_a_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nvr.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            load_config(path, READERS)
        except ConfigError as exc:
            assert str(exc).startswith(str(path))


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("device.id", "box\n", "must be 1-64 letters"),
    ("cameras[].id", "cam\n", "must be 1-64 letters"),
    ("cameras[].main", "rtsp://h/x\n", "holds a control character"),
    ("cameras[].main", "rtsp://h/x\ty", "holds a control character"),
    ("catalog.url", "postgresql://u:p@h/db\r", "holds a control character"),
    ("mqtt.url", "mqtt://h\n", "holds a control character"),
    ("mqtt.topic_prefix", "nvr\n", "must be topic levels"),
    ("web.listen", "box\n:8080", "expected host:port"),
])
def test_trailing_newlines_and_control_characters_are_refused(key: str, value: str,
                                                              problem: str) -> None:
    if section_of(key) not in {*CORE_SECTIONS, *READERS}:
        pytest.skip(f"the plugin of {key} is not installed")
    doc = document_with(key, value)
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_config(doc, readers=READERS)
    assert caught.value.key == expected_path(key)


def test_an_upper_case_scheme_is_accepted_in_the_form_run_uses() -> None:
    config = parse_config(document_with("cameras[].main", "RTSP://u:p@h/x"), readers=READERS)
    assert config.cameras[0].main == "rtsp://u:p@h/x"


def deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": [value]}
    return value


def test_a_document_nested_too_deeply_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_config({"device": {"id": "box"}, "x": deep(20)}, readers=READERS)
    path = tmp_path / "deep.toml"
    path.write_text('[device]\nid = "box"\n[x]\na = ' + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(path, READERS)
    with pytest.raises(ConfigError, match="nested too deeply"):  # before any recursion
        merge_patch({}, deep(5000))
    with pytest.raises(ConfigError, match="nested too deeply"):
        restore_secrets(deep(5000), {})
