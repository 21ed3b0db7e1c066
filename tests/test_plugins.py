from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

from nvr_edge import DISABLE_AUTOLOAD_ENV, hookimpl, hookspecs
from nvr_edge.plugins import DEFAULT_PLUGINS, describe_plugins, make_plugin_manager

DOCS = Path(__file__).resolve().parents[1] / "docs" / "PLUGINS.md"


def test_builtins_are_plugins_and_listed_by_the_command() -> None:
    out = subprocess.run([sys.executable, "-m", "nvr_edge", "plugins", "--json"],
                         capture_output=True, text=True, check=True)
    listed = {p["name"]: p for p in json.loads(out.stdout)}
    assert set(DEFAULT_PLUGINS) <= set(listed)
    # short, stable names: moving a module never renames a blockable piece
    assert {"static_cameras", "fmp4_writer", "sqlite", "postgres"} <= set(listed)
    assert "nvr_catalog_open" in listed["sqlite"]["hooks"]
    assert "nvr_segment_writer_factory" in listed["fmp4_writer"]["hooks"]


def test_a_plugin_can_replace_a_builtin_catalog() -> None:
    class MemoryCatalogPlugin:
        @hookimpl(tryfirst=True)
        def nvr_catalog_open(self, url: str) -> str | None:
            return "memory-catalog" if url.startswith("sqlite://") else None

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(MemoryCatalogPlugin(), name="memory")
    assert pm.hook.nvr_catalog_open(url="sqlite:////nowhere/x.db", create=True,
                                  device="box") == "memory-catalog"
    names = [p.name for p in describe_plugins(pm)]
    assert "memory" in names


def test_a_builtin_can_be_blocked() -> None:
    pm = make_plugin_manager(load_entry_points=False, blocked=("postgres",))
    assert pm.hook.nvr_catalog_open(url="postgresql://x@127.0.0.1:1/db", create=True,
                                  device="box") is None


def test_every_hook_is_documented_with_its_signature() -> None:
    text = DOCS.read_text()
    for name in hookspecs.hook_names():
        spec = getattr(hookspecs, name)
        assert spec.__doc__, f"{name} has no docstring"
        params = ", ".join(inspect.signature(spec).parameters)
        assert f"{name}({params})" in text, f"docs/PLUGINS.md lacks {name}({params})"


def test_a_camera_worker_loads_no_main_process_plugin() -> None:
    """Workers load only the `nvr_edge.worker` group: none of the web, MQTT or RTMP stacks
    (every worker once carried aiohttp and aiortc, ~35 MiB each)."""
    probe = ("import sys\n"
             "from nvr_edge.plugins import make_plugin_manager, {group}\n"
             "pm = make_plugin_manager(group={group})\n"
             "heavy = {{'aiohttp', 'aiortc', 'paho'}} & {{m.split('.')[0] for m in sys.modules}}\n"
             "print(sorted(heavy), len(pm.get_plugins()))")
    env = {k: v for k, v in os.environ.items() if k != DISABLE_AUTOLOAD_ENV}
    outputs = {}
    for group in ("WORKER_ENTRY_POINT_GROUP", "ENTRY_POINT_GROUP"):
        run = subprocess.run([sys.executable, "-c", probe.format(group=group)], env=env,
                             capture_output=True, text=True, check=True)
        outputs[group] = run.stdout.strip()
    assert outputs["WORKER_ENTRY_POINT_GROUP"] == f"[] {len(DEFAULT_PLUGINS)}"
    assert outputs["ENTRY_POINT_GROUP"].startswith("['aiohttp'")  # installed: the probe sees
