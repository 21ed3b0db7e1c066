"""The plugin manager: built-in pieces and installed plugins, all through the same hooks."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from nvr_edge import config, hookspecs
from nvr_edge.config import Config

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "nvr_edge"
# Plugins with hooks called in a camera worker (nvr_segment_writer_factory) register here
# too: a worker loads only this group, so it never imports the web, MQTT or RTMP stacks
# (they made each worker ~35 MiB bigger).
WORKER_ENTRY_POINT_GROUP = "nvr_edge.worker"
DISABLE_AUTOLOAD_ENV = "NVR_EDGE_DISABLE_PLUGIN_AUTOLOAD"

# Built-in behaviour is registered like any third-party plugin, so the API cannot rot and a
# test can block or replace any piece.
# Each under a short, stable name (what `nvr-edge plugins` shows and `blocked` takes), so
# moving a module never renames a public piece.
DEFAULT_PLUGINS = {
    "static_cameras": "nvr_edge.discovery.static",
    "fmp4_writer": "nvr_edge.storage.fmp4",
    "sqlite": "nvr_edge.catalog.sqlite",
    "postgres": "nvr_edge.catalog.postgres",
    "encoders": "nvr_edge.encode.plugin",
    "x264_encoder": "nvr_edge.encode.software",
    "v4l2m2m_encoder": "nvr_edge.encode.v4l2m2m",
    "vaapi_encoder": "nvr_edge.encode.vaapi",
    "rkmpp_encoder": "nvr_edge.encode.rkmpp",
    "snapshots": "nvr_edge.appliance.snapshot_plugin",
    "history": "nvr_edge.appliance.history_plugin",
    "update": "nvr_edge.update.plugin",
}



@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple[str, ...]
    builtin: bool


def make_plugin_manager(load_entry_points: bool = True,
                        blocked: tuple[str, ...] = (),
                        group: str = ENTRY_POINT_GROUP) -> pluggy.PluginManager:
    """The built-in plugins, then those installed under entry-point `group`."""
    pm = pluggy.PluginManager("nvr_edge")
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for name, module_name in DEFAULT_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module_name), name=name)
    if load_entry_points and not os.environ.get(DISABLE_AUTOLOAD_ENV):
        pm.load_setuptools_entrypoints(group)
    return pm


def section_readers_of(pm: pluggy.PluginManager) -> dict[str, Callable[[Any], Any]]:
    """The config sections plugins read, merged; the first plugin to claim a name wins."""
    readers: dict[str, Callable[[Any], Any]] = {}
    for claimed in reversed(pm.hook.nvr_config_sections()):  # registration order
        for name, reader in claimed.items():
            if name in readers:
                log.warning("config section [%s] is claimed by two plugins; the first wins",
                            name)
                continue
            readers[name] = reader
    return readers


def load_config(path: str | Path, pm: pluggy.PluginManager | None = None) -> Config:
    """Read a config file with the sections of `pm`'s plugins (default: those installed)."""
    return config.load_config(path, section_readers_of(pm or make_plugin_manager()))


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """What is active: name, version (the distribution's, for installed plugins), hooks."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = dists.get(id(plugin))
        version = dist.version if dist else core_version()
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(name, version, hooks, builtin=name in DEFAULT_PLUGINS))
    return sorted(infos, key=lambda i: (not i.builtin, i.name))


def core_version() -> str:
    try:
        return metadata.version("nvr-edge")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
