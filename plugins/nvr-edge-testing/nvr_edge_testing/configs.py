"""Appliance config files for tests, benchmarks and the demo: a document (plain dicts)
written with tomli_w, so that any value a test puts in comes out as valid TOML."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

# `NVR_EDGE_TEST_ENGINE=native pytest tests/system ...`: every config written here records
# with that `recording.engine` (a test's own `recording` table still wins).
ENGINE_ENV = "NVR_EDGE_TEST_ENGINE"


def appliance_document(cameras: Mapping[str, str], *, device_id: str = "test-box",
                       catalog_url: str | None = None, segment_seconds: int = 10,
                       recording: Mapping[str, Any] | None = None,
                       connect_timeout_s: float | None = 5.0) -> dict[str, Any]:
    """A minimal config: `cameras` (id -> main RTSP URL), storage folders beside the file,
    a short connect timeout so that tests fail fast (None: the appliance's default, as the
    benchmarks and the demo want)."""
    document: dict[str, Any] = {
        "device": {"id": device_id},
        "storage": {"cache_dir": "cache", "archive_dir": "archive", "state_dir": "state",
                    "segment_seconds": segment_seconds},
    }
    fast: dict[str, Any] = {"connect_timeout_s": connect_timeout_s} \
        if connect_timeout_s is not None else {}
    engine = os.environ.get(ENGINE_ENV)
    if engine:  # the whole recording suite, run through the other packet path
        fast["engine"] = engine
    if fast or recording:
        document["recording"] = {**fast, **(recording or {})}
    if catalog_url:
        document["catalog"] = {"url": catalog_url}
    if cameras:
        document["cameras"] = [{"id": cam, "main": url} for cam, url in cameras.items()]
    return document


def merge_tables(document: dict[str, Any], tables: Mapping[str, Any]) -> dict[str, Any]:
    """`document` with `tables` added: a table gains keys, an array of tables grows, any
    other value is replaced."""
    for name, value in tables.items():
        old = document.get(name)
        if isinstance(old, dict) and isinstance(value, Mapping):
            document[name] = {**old, **value}
        elif isinstance(old, list) and isinstance(value, list):
            document[name] = old + value
        else:
            document[name] = value
    return document


def write_toml(path: Path, document: Mapping[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(document))
    return path


def write_config(path: Path, cameras: Mapping[str, str], *, catalog_url: str | None = None,
                 segment_seconds: int = 10, recording: Mapping[str, Any] | None = None,
                 tables: Mapping[str, Any] | None = None) -> Path:
    """`appliance_document` plus `tables` (e.g. `{"web": {"listen": ...}}`), at `path`."""
    document = appliance_document(cameras, catalog_url=catalog_url,
                                  segment_seconds=segment_seconds, recording=recording)
    return write_toml(path, merge_tables(document, tables or {}))
