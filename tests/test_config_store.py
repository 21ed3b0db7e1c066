"""The config document at run time: masking secrets, restoring them, patches, the file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.config import ConfigError, parse_config
from nvr_edge.config_store import (
    MASK,
    merge_patch,
    public_document,
    restore_secrets,
    unresolved_masks,
    write_document,
)

SECRET = "s3cr:et/pw"  # URL-quoting is the author's job; the redactor stops at '@'


def document() -> dict[str, Any]:
    return {
        "device": {"id": "box"},
        "catalog": {"url": "postgresql://nvr:dbpass@127.0.0.1:5432/nvr"},
        "mqtt": {"url": "mqtt://127.0.0.1:1883", "password": "brokerpass"},
        "cameras": [
            {"id": "a", "main": "rtsp://admin:apass@10.0.0.2/main"},
            {"id": "b", "main": "rtsp://admin:bpass@10.0.0.3/main", "sub": "rtsp://h/sub"},
        ],
    }


def test_public_document_masks_every_secret() -> None:
    shown = public_document(document())
    text = repr(shown)
    for secret in ("dbpass", "brokerpass", "apass", "bpass"):
        assert secret not in text
    assert shown["cameras"][0]["main"] == f"rtsp://admin:{MASK}@10.0.0.2/main"
    assert shown["mqtt"]["password"] == MASK
    assert shown["cameras"][1]["sub"] == "rtsp://h/sub"


def test_masked_values_come_back_matched_by_camera_id() -> None:
    current = document()
    edited = public_document(current)
    edited["cameras"].reverse()  # reordered: matched by id, not position
    edited["cameras"][0]["retention_days"] = 7
    restored = restore_secrets(edited, current)
    assert restored["cameras"][1]["main"] == "rtsp://admin:apass@10.0.0.2/main"
    assert restored["cameras"][0]["main"] == "rtsp://admin:bpass@10.0.0.3/main"
    assert restored["catalog"]["url"] == current["catalog"]["url"]
    assert restored["mqtt"]["password"] == "brokerpass"


def test_a_mask_on_a_changed_url_is_not_filled_in() -> None:
    """Moving a camera to another host with a masked password must not send the old
    password to the new host."""
    current = document()
    edited = public_document(current)
    edited["cameras"][0]["main"] = f"rtsp://admin:{MASK}@10.9.9.9/main"
    restored = restore_secrets(edited, current)
    assert restored["cameras"][0]["main"] == f"rtsp://admin:{MASK}@10.9.9.9/main"


def test_masks_left_unresolved_are_found_by_key_path() -> None:
    shown = public_document(document())
    assert unresolved_masks(shown) == ["catalog.url", "mqtt.password", "cameras[0].main",
                                       "cameras[1].main"]
    assert unresolved_masks(restore_secrets(shown, document())) == []
    assert unresolved_masks({"name": "stars *** here"}) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=10)


@given(st.dictionaries(st.text(max_size=3), json_values, max_size=4),
       st.dictionaries(st.text(max_size=3), json_values, max_size=4))
def test_merge_patch_follows_rfc7386(target: dict[str, Any], patch: dict[str, Any]) -> None:
    result = merge_patch(target, patch)
    for key, value in patch.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert result[key] == value
    for key in set(target) - set(patch):
        assert result[key] == target[key]
    assert merge_patch(result, patch) == result  # idempotent


@given(st.dictionaries(st.sampled_from(["url", "password", "token", "name"]),
                       st.text(min_size=1, max_size=8), max_size=4))
def test_restoring_a_public_copy_gives_back_the_original(table: dict[str, str]) -> None:
    doc = {"section": table}
    assert restore_secrets(public_document(doc), doc) == doc


def test_write_document_replaces_atomically_and_keeps_the_previous(tmp_path: Path) -> None:
    path = tmp_path / "nvr.toml"
    path.write_text('# my comment\n[device]\nid = "old"\n')
    path.chmod(0o600)
    new = document()
    write_document(path, new)
    assert tomllib.loads(path.read_text()) == new
    assert path.stat().st_mode & 0o777 == 0o600
    assert 'id = "old"' in (tmp_path / "nvr.toml.prev").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nvr.toml", "nvr.toml.prev"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None or Path(
    "/proc/sys/fs/protected_hardlinks").read_text().strip() != "1",
    reason="needs root, setpriv and fs.protected_hardlinks")
def test_a_config_another_user_owns_is_replaced_and_kept_as_prev(tmp_path: Path) -> None:
    """The image's case: the installer seeds nvr-edge.toml as root; the service (its own
    user) may write the folder but the kernel will not let it hard-link a file it does not
    own. Here: a file of another user, written by a process without the capabilities that
    lift that rule (CAP_FOWNER, CAP_DAC_OVERRIDE)."""
    path = tmp_path / "nvr.toml"
    path.write_text('[device]\nid = "seeded"\n')
    path.chmod(0o644)
    os.chown(path, 65534, 65534)
    script = ("import sys, pathlib; from nvr_edge.config_store import write_document; "
              "write_document(pathlib.Path(sys.argv[1]), {'device': {'id': 'changed'}})")
    done = subprocess.run(["setpriv", "--bounding-set", "-fowner,-dac_override",
                           sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert tomllib.loads(path.read_text()) == {"device": {"id": "changed"}}
    assert 'id = "seeded"' in (tmp_path / "nvr.toml.prev").read_text()


def test_write_document_leaves_the_file_alone_when_toml_cannot_hold_it(tmp_path: Path) -> None:
    path = tmp_path / "nvr.toml"
    path.write_text('[device]\nid = "old"\n')
    with pytest.raises((TypeError, ValueError)):
        write_document(path, {"device": {"id": object()}})
    assert path.read_text() == '[device]\nid = "old"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["nvr.toml"]


def test_plugin_sections_are_read_by_their_plugin_and_others_rejected() -> None:
    def read_hello(table: Any) -> dict[str, Any]:
        return {"present": table.present, "greeting": table.string("greeting", "hi"),
                "hosts": table.strings("hosts", ("127.0.0.1",))}

    readers = {"hello": read_hello}
    base = {"device": {"id": "box"}}
    config = parse_config({**base, "hello": {"greeting": "hey"}}, readers=readers)
    assert config.sections["hello"] == {"present": True, "greeting": "hey",
                                        "hosts": ("127.0.0.1",)}
    assert parse_config(base, readers=readers).sections["hello"]["present"] is False
    with pytest.raises(ConfigError, match=r"hello\.greting: unknown key"):
        parse_config({**base, "hello": {"greting": "hey"}}, readers=readers)
    with pytest.raises(ConfigError, match=r"hello\.hosts: expected an array of strings"):
        parse_config({**base, "hello": {"hosts": [1]}}, readers=readers)
    with pytest.raises(ConfigError, match=r"helo: unknown key"):
        parse_config({**base, "helo": {}}, readers=readers)
