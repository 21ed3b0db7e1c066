"""The kit's own parts, without an appliance: config files and the hook-call recorder."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from nvr_edge_testing.configs import merge_tables, write_config
from nvr_edge_testing.hooks import RECORDER_NAME, HookRecorder

from nvr_edge import Alert, hookimpl, read_history
from nvr_edge.appliance.observers import Observers
from nvr_edge.models import AlertLevel
from nvr_edge.plugins import load_config, make_plugin_manager


def test_config_values_of_any_kind_come_out_as_written(tmp_path: Path) -> None:
    url = 'rtsp://u:p"w\\d@127.0.0.1:8554/cam1/main'  # a quote and a backslash
    path = write_config(tmp_path / "c.toml", {"cam1": url}, recording={"stall": {"s": 2.5}},
                        tables={"hello": {"greeting": "it's \"hi\""},
                                "cameras": [{"id": "cam2", "main": "rtsp://x/"}]})
    document = tomllib.loads(path.read_text())
    assert [c["main"] for c in document["cameras"]] == [url, "rtsp://x/"]
    assert document["hello"] == {"greeting": "it's \"hi\""}
    assert document["recording"] == {"connect_timeout_s": 5.0, "stall": {"s": 2.5}}


def test_tables_merge_key_by_key() -> None:
    merged = merge_tables({"a": {"x": 1, "y": 2}, "b": [1], "c": 1},
                          {"a": {"y": 3}, "b": [2], "c": 2, "d": {}})
    assert merged == {"a": {"x": 1, "y": 3}, "b": [1, 2], "c": 2, "d": {}}


class Answering:
    @hookimpl
    def nvr_catalog_open(self, url: str) -> str:
        return f"catalog for {url}"

    @hookimpl
    def nvr_camera_state(self, camera_id: str) -> None:
        raise RuntimeError("observed, then raised")


def test_the_recorder_sees_hooks_called_either_way_and_changes_no_answer(tmp_path: Path) -> None:
    pm = make_plugin_manager(load_entry_points=False, blocked=("sqlite", "postgres"))
    config = load_config(write_config(tmp_path / "c.toml", {"cam1": "rtsp://127.0.0.1:1/"}), pm)
    config.storage.state_dir.mkdir(parents=True)  # the appliance makes it when it starts
    pm.register(Answering(), name="answering")
    hooks = HookRecorder()
    hooks.attach(pm)
    assert pm.get_plugin(RECORDER_NAME) is not None
    # through pluggy (a firstresult hook: the recorder answers None, the plugin still wins)
    assert pm.hook.nvr_catalog_open(url="x://", create=True, device="box") == "catalog for x://"
    # one implementation at a time, as the appliance calls its observer hooks
    alerts: list[Alert] = []
    Observers(pm, alerts.append).notify("nvr_camera_state", camera_id="cam1", state="online",
                                        reason="", config=config)
    assert [c.url for c in hooks.getcalls("nvr_catalog_open")] == ["x://"]
    (state,) = hooks.getcalls("nvr_camera_state")
    assert (state.camera_id, state.state) == ("cam1", "online")
    assert [a.level for a in alerts] == [AlertLevel.WARNING]  # the plugin still raised
    # the built-in history plugin, called after the one that raised, still wrote the state
    assert [(e.camera, e.code) for e in read_history(config.storage.state_dir)] == [
        ("cam1", "online")]
    assert hooks.wait_for("nvr_camera_state", timeout=1) == [state]


def test_waiting_for_a_call_that_never_comes_fails() -> None:
    with pytest.raises(AssertionError, match="nvr_startup"):
        HookRecorder().wait_for("nvr_startup", timeout=0.3)


