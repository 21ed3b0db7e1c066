from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr_edge.config import ConfigError, load_config, parse_config

GOOD = """
[device]
id = "nvr-lab-01"
[storage]
cache_dir = "/var/lib/nvr-edge/cache"
archive_dir = "/var/lib/nvr-edge/archive"
segment_seconds = 180
[catalog]
url = "sqlite:////var/lib/nvr-edge/catalog.db"
[[cameras]]
id = "front-door"
main = "rtsp://user:pass@192.0.2.21/main"
sub = "rtsp://user:pass@192.0.2.21/sub"
[[cameras]]
id = "yard"
main = "rtsp://192.0.2.22:8554/main"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nvr.toml"
    path.write_text(text)
    return path


def test_the_documented_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.device_id == "nvr-lab-01"
    assert config.storage.segment_seconds == 180
    assert [c.id for c in config.cameras] == ["front-door", "yard"]
    assert config.cameras[0].sub == "rtsp://user:pass@192.0.2.21/sub"
    assert config.recording.retry.max_retries == 5
    assert config.recording.stall.timeout_ms == 500


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[device]\nid = "x"\n[storage]\ncache_dir = "c"\n'))
    assert config.storage.cache_dir == tmp_path / "c"
    assert config.storage.segment_seconds == 180
    assert config.catalog_url.startswith("sqlite:////var/lib/nvr-edge/state/catalog.db")
    assert config.cameras == ()


@pytest.mark.parametrize(("text", "key", "problem"), [
    (GOOD.replace('main = "rtsp://192.0.2.22:8554/main"', 'main = "http://192.0.2.22/x"'),
     "cameras[1].main", "expected an rtsp:// or rtsps:// URL"),
    (GOOD.replace("segment_seconds = 180", "segment_seconds = 5"),
     "storage.segment_seconds", "must be between 10 and 600"),
    (GOOD.replace("segment_seconds = 180", 'segment_seconds = "180"'),
     "storage.segment_seconds", "expected an integer"),
    (GOOD.replace("segment_seconds = 180", "segmnt_seconds = 180"),
     "storage.segmnt_seconds", "unknown key"),
    (GOOD.replace('id = "yard"', 'id = "front-door"'), "cameras[1].id", "duplicate camera id"),
    (GOOD.replace('id = "yard"', 'id = "../etc"'), "cameras[1].id", "must be 1-64 letters"),
    (GOOD.replace('id = "nvr-lab-01"', ""), "device.id", "is required"),
    (GOOD.replace('url = "sqlite:////var/lib/nvr-edge/catalog.db"', 'url = "mysql://x/y"'),
     "catalog.url", "expected sqlite:///PATH or postgresql://"),
    (GOOD + "[recording.retry]\ninitial_delay_ms = 5000\nmax_delay_ms = 1000\n",
     "recording.retry.max_delay_ms", "must not be smaller"),
])
def test_bad_configs_name_file_key_and_problem(tmp_path: Path, text: str, key: str,
                                               problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nvr.toml: invalid TOML: .*line 2"):
        load_config(write(tmp_path, '[device]\nid = "x\n'))


def test_errors_never_show_the_password(tmp_path: Path) -> None:
    text = GOOD.replace('"rtsp://user:pass@192.0.2.21/main"', '"http://user:hunter2@h/main"')
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "hunter2" not in str(caught.value)
    assert "cameras[0].main" in str(caught.value)


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    good = subprocess.run([sys.executable, "-m", "nvr_edge", "check-config",
                           str(write(tmp_path, GOOD))], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "2 camera(s)" in good.stdout
    bad = write(tmp_path, GOOD.replace("segment_seconds = 180", "segment_seconds = 9999"))
    result = subprocess.run([sys.executable, "-m", "nvr_edge", "check-config", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert f"{bad}: storage.segment_seconds: must be between 10 and 600" in result.stderr


def test_check_config_show_prints_the_document_with_secrets_masked(tmp_path: Path) -> None:
    text = GOOD.replace('main = "rtsp://192.0.2.22:8554/main"',
                        'main = "rtsp://admin:it\'s a p@ss:word@192.0.2.22/main"')
    shown = subprocess.run([sys.executable, "-m", "nvr_edge", "check-config", "--show",
                            str(write(tmp_path, text))], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert 'main = "rtsp://admin:***@192.0.2.22/main"' in shown.stdout
    assert "p@ss" not in shown.stdout and "word" not in shown.stdout


toml_scalars = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.text(max_size=30),
                         st.floats(allow_nan=True))
toml_values = st.recursive(toml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
section_keys = st.sampled_from(["device", "storage", "catalog", "recording", "cameras", "x"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(section_keys, toml_values, max_size=5))
def test_any_document_is_accepted_or_gets_a_config_error(data: dict) -> None:
    try:
        parse_config(data, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml")


@settings(max_examples=200, deadline=None)
@given(seconds=st.integers(-1000, 2000),
       cam_ids=st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True),
                        max_size=4))
def test_segment_seconds_range_and_camera_ids(seconds: int, cam_ids: list[str]) -> None:
    data = {"device": {"id": "d"}, "storage": {"segment_seconds": seconds},
            "cameras": [{"id": c, "main": f"rtsp://10.0.0.{i}/x"} for i, c in enumerate(cam_ids)]}
    valid = 10 <= seconds <= 600 and len(set(cam_ids)) == len(cam_ids)
    if valid:
        config = parse_config(data)
        assert config.storage.segment_seconds == seconds
        assert [c.id for c in config.cameras] == cam_ids
    else:
        with pytest.raises(ConfigError):
            parse_config(data)
