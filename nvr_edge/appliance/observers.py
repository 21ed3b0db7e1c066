"""Calling the hooks that tell plugins what happened, so that no plugin can stop the box.

Each plugin's implementation is called on its own: one that raises is logged with its
traceback, counted (the status shows the counts), alerted once per plugin and hook, and
the other plugins are still called. Recording never waits on, nor dies with, a plugin.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import pluggy

from nvr_edge.models import Alert, AlertLevel

log = logging.getLogger(__name__)

PLUGIN_FAILED = "plugin_failed"


class Observers:
    def __init__(self, pm: pluggy.PluginManager, alert: Callable[[Alert], None]) -> None:
        self.pm = pm
        self.alert = alert
        self.failures: Counter[tuple[str, str]] = Counter()  # (plugin, hook) -> count

    def notify(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of `hook_name` (in pluggy's order); return the results
        of those that answered (not None) and did not raise."""
        caller = getattr(self.pm.hook, hook_name)
        results = []
        for impl in reversed(caller.get_hookimpls()):  # pluggy calls the last registered first
            try:
                result = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:
                self._failed(impl.plugin_name, hook_name, exc)
                continue
            if result is not None:
                results.append(result)
        return results

    def _failed(self, plugin: str, hook_name: str, exc: Exception) -> None:
        key = (plugin, hook_name)
        self.failures[key] += 1
        log.error("plugin %s: %s raised %s: %s (recording goes on)", plugin, hook_name,
                  type(exc).__name__, exc, exc_info=exc)
        if self.failures[key] == 1 and hook_name != "nvr_alert":  # no alert loop
            self.alert(Alert(PLUGIN_FAILED, AlertLevel.WARNING,
                             f"plugin {plugin}: {hook_name} raised {type(exc).__name__}: "
                             f"{exc}; the plugin is still called, recording goes on"))

    def status(self) -> dict[str, dict[str, int]]:
        """Failures so far, by plugin and hook."""
        by_plugin: dict[str, dict[str, int]] = {}
        for (plugin, hook_name), count in sorted(self.failures.items()):
            by_plugin.setdefault(plugin, {})[hook_name] = count
        return by_plugin
