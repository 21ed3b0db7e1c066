"""Config keys declared once (`nvr_edge.config_key`): the core's sections are read from
their declarations alone, and a plugin declares its own section through the public API."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nvr_edge import (
    ConfigError,
    ConfigTable,
    config_group,
    config_key,
    config_subtable,
    describe_section,
    hookimpl,
    read_section,
)
from nvr_edge.config import (
    DECLARED_SECTIONS,
    Config,
    FloorConfig,
    HealthConfig,
    RecordingConfig,
    RetryPolicyConfig,
    StallConfig,
    StorageConfig,
    parse_config,
)
from nvr_edge.plugins import make_plugin_manager, section_readers_of

# --- a plugin-shaped section, declared the way docs/PLUGINS.md's plugins would -----------


@dataclass(frozen=True)
class Backoff:
    min_s: float = config_key(1.0, lo=0.1, hi=60.0, doc="first wait")
    max_s: float = config_key(30.0, lo=0.1, hi=3600.0, doc="longest wait")


def check_backoff(table: ConfigTable, backoff: Backoff) -> None:
    if backoff.max_s < backoff.min_s:
        raise table.error("max_s", "must not be smaller than min_s")


@dataclass(frozen=True)
class Quota:
    min_free_mb: int = config_key(0, lo=0, hi=1_000_000, doc="free space to keep")


@dataclass(frozen=True)
class GreeterSettings:
    url: str = config_key(doc="where to greet")
    greeting: str = config_key("hello", doc="what the greeter says")
    times: int = config_key(1, lo=1, hi=10, doc="how often it says it")
    tone: str = config_key("polite", choices=("polite", "loud"), doc="how it says it")
    echo: bool = config_key(False, doc="say it back")
    hosts: tuple[str, ...] = config_key((), doc="who it greets")
    spool: Path | None = config_key(None, doc="where it keeps what it could not say")
    backoff: Backoff = config_subtable(Backoff, check=check_backoff)
    disk: Quota = config_group(Quota, "disk_", min_free_mb=64)


class Greeter:
    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        # Absent [greeter]: the plugin stays idle (its url is required only when it is on).
        return {"greeter": lambda t: read_section(GreeterSettings, t) if t.present else None}


def parse_with_greeter(greeter: dict[str, Any] | None, base_dir: Path = Path("/")) -> Config:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Greeter(), name="greeter")
    data: dict[str, Any] = {"device": {"id": "box"}}
    if greeter is not None:
        data["greeter"] = greeter
    return parse_config(data, "box.toml", base_dir, section_readers_of(pm))


def test_a_plugin_section_is_read_from_its_declarations(tmp_path: Path) -> None:
    config = parse_with_greeter({
        "url": "udp://10.0.0.9", "greeting": "hey", "times": 3, "tone": "loud", "echo": True,
        "hosts": ["a", "b"], "spool": "spool", "backoff": {"min_s": 2},
        "disk_min_free_mb": 128,
    }, tmp_path)
    assert config.sections["greeter"] == GreeterSettings(
        url="udp://10.0.0.9", greeting="hey", times=3, tone="loud", echo=True,
        hosts=("a", "b"), spool=tmp_path / "spool", backoff=Backoff(min_s=2.0),
        disk=Quota(min_free_mb=128))
    assert parse_with_greeter({"url": "x"}).sections["greeter"] == GreeterSettings(url="x")
    assert GreeterSettings(url="x").disk == Quota(min_free_mb=64)  # the group's own default
    assert parse_with_greeter(None).sections["greeter"] is None


@pytest.mark.parametrize(("table", "message"), [
    ({"times": 11}, "greeter.times: must be between 1 and 10, got 11"),
    ({"times": "3"}, "greeter.times: expected an integer, got a string '3'"),
    ({"tone": "rude"}, "greeter.tone: must be one of polite, loud, got 'rude'"),
    ({"echo": 1}, "greeter.echo: expected true or false, got an integer 1"),
    ({"hosts": [1]}, "greeter.hosts: expected an array of strings, got an array [1]"),
    ({"spool": " "}, "greeter.spool: must not be empty"),
    ({"greting": "hi"}, "greeter.greting: unknown key (a typo?)"),
    ({"backoff": {"max_s": 0.5}}, "greeter.backoff.max_s: must not be smaller than min_s"),
    ({"backoff": {"mx_s": 1}}, "greeter.backoff.mx_s: unknown key (a typo?)"),
    ({"backoff": 5}, "greeter.backoff: expected a table, got an integer"),
    ({"disk_min_free_mb": -1}, "greeter.disk_min_free_mb: must be between 0 and 1000000, "
                               "got -1"),
])
def test_a_plugin_section_reports_errors_like_the_core(table: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_with_greeter({"url": "x", **table})
    assert str(caught.value) == f"box.toml: {message}"


def test_a_plugin_section_without_its_required_key_names_it() -> None:
    with pytest.raises(ConfigError, match=r"^box\.toml: greeter\.url: is required$"):
        parse_with_greeter({})


def test_a_plugin_section_describes_its_keys_and_defaults() -> None:
    described = [(d.key, d.default, d.required)
                 for d in describe_section(GreeterSettings, "greeter")]
    assert described == [
        ("greeter.url", None, True), ("greeter.greeting", "hello", False),
        ("greeter.times", 1, False), ("greeter.tone", "polite", False),
        ("greeter.echo", False, False), ("greeter.hosts", (), False),
        ("greeter.spool", None, False), ("greeter.backoff.min_s", 1.0, False),
        ("greeter.backoff.max_s", 30.0, False), ("greeter.disk_min_free_mb", 64, False),
    ]


# --- the core's declarations -------------------------------------------------------------


def test_every_field_of_the_core_sections_is_declared() -> None:
    classes = [*DECLARED_SECTIONS.values(), RetryPolicyConfig, StallConfig, FloorConfig]
    undeclared = [f"{cls.__name__}.{f.name}" for cls in classes
                  for f in dataclasses.fields(cls) if not f.metadata]
    assert undeclared == []


@pytest.mark.parametrize("cls", [StorageConfig, RecordingConfig, HealthConfig])
def test_an_empty_table_reads_as_the_dataclass_defaults(cls: type) -> None:
    assert read_section(cls, ConfigTable({}, "x", "t.toml", Path("/"))) == cls()


def test_every_declared_default_is_within_its_own_range_and_choices() -> None:
    for path, cls in DECLARED_SECTIONS.items():
        for d in describe_section(cls, path):
            key = d.declared
            if key.lo is not None:
                assert key.lo <= d.default <= key.hi, d.key  # type: ignore[operator]
            if key.choices:
                assert d.default in key.choices, d.key
