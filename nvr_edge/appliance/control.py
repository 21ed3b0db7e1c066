"""How plugins act on the running appliance from their own threads.

Every action is queued and carried out by the supervisor's loop (the only thread that
touches workers), and the caller waits for the result. Configuration changes are validated
like the file, written to the file atomically, and only then applied: what runs is always
what a restart would load.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pluggy

from nvr_edge.api import Command, CommandError, ConfigChange, ControlError, LiveRelay
from nvr_edge.appliance.observers import Observers
from nvr_edge.config import Config, ConfigError, parse_config
from nvr_edge.config_store import (
    merge_patch,
    public_document,
    restore_secrets,
    unresolved_masks,
    write_document,
)
from nvr_edge.plugins import describe_plugins, section_readers_of

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_TIMEOUT_S = 30.0


class Engine(Protocol):
    """What control needs of the supervisor (a Protocol: no import of it, no cycle)."""

    config: Config
    cameras: Mapping[str, Any]
    live: LiveRelay
    pm: pluggy.PluginManager

    observers: Observers

    def restart_camera(self, camera_id: str) -> None: ...

    def retry_camera(self, camera_id: str) -> None: ...

    def apply_config(self, new: Config) -> ConfigChange: ...


class ApplianceControl:
    def __init__(self, supervisor: Engine) -> None:
        self._supervisor = supervisor
        self._pending: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = \
            queue.SimpleQueue()
        self._config_lock = threading.Lock()  # one config change at a time, end to end
        self._status: dict[str, Any] = {}

    # -- for plugins (any thread) --------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._supervisor.config

    @property
    def live(self) -> LiveRelay:
        """The live relay: `live.subscribe(camera, notify)` gives a viewer its packets."""
        return self._supervisor.live

    def commands(self) -> list[Command]:
        """Every command the plugins offer; a name claimed twice: the first plugin wins."""
        found: dict[str, Command] = {}
        for batch in self._supervisor.observers.notify("nvr_commands", appliance=self):
            for command in batch:
                if command.name in found:
                    log.warning("command %s is offered twice; the first plugin wins",
                                command.name)
                    continue
                found[command.name] = command
        return sorted(found.values(), key=lambda c: c.name)

    def run_command(self, name: str, args: Mapping[str, Any]) -> Any:
        """Run a plugin's command with checked arguments, on the caller's thread."""
        command = next((c for c in self.commands() if c.name == name), None)
        if command is None:
            raise CommandError(f"unknown command {name!r}")
        return command.run(command.checked(args))

    def call_hook(self, name: str, **kwargs: Any) -> list[Any]:
        """A hook of the running plugin manager, each plugin contained (see Observers)."""
        return self._supervisor.observers.notify(name, **kwargs)

    def status(self) -> dict[str, Any]:
        """The latest status snapshot (refreshed every 2 s)."""
        return self._status

    def plugins(self) -> list[dict[str, Any]]:
        """Active plugins: name, version, whether built in."""
        return [{"name": p.name, "version": p.version, "builtin": p.builtin}
                for p in describe_plugins(self._supervisor.pm)]

    def public_config(self) -> dict[str, Any]:
        """The running configuration as a TOML-shaped document, secrets masked."""
        return public_document(self.config.document)

    def restart_camera(self, camera_id: str) -> None:
        self._call(lambda: self._supervisor.restart_camera(self._known(camera_id)))

    def retry_camera(self, camera_id: str) -> None:
        self._call(lambda: self._supervisor.retry_camera(self._known(camera_id)))

    def set_config(self, document: Mapping[str, Any]) -> ConfigChange:
        """Replace the whole configuration (masked secrets keep their running values)."""
        return self._change_config(lambda current: restore_secrets(document, current))

    def patch_config(self, patch: Mapping[str, Any]) -> ConfigChange:
        """Change part of the configuration with an RFC 7386 merge patch."""
        return self._change_config(
            lambda current: restore_secrets(merge_patch(current, patch), current))

    def edit_config(self, edit: Callable[[dict[str, Any]], Mapping[str, Any]]) -> ConfigChange:
        """`edit(a copy of the running document)` -> the new document, under the lock every
        change takes: a read-modify-write (append a camera) loses no change made meanwhile."""
        return self._change_config(
            lambda current: restore_secrets(edit(copy.deepcopy(dict(current))), current))

    def set_recording(self, camera_id: str, on: bool) -> ConfigChange:
        """Turn a camera's recording on or off; kept in the config file (`enabled`)."""
        self._known(camera_id)

        def edit(current: Mapping[str, Any]) -> dict[str, Any]:
            document = copy.deepcopy(dict(current))
            for camera in document.get("cameras", []):
                if camera.get("id") == camera_id:
                    camera["enabled"] = on
                    return document
            raise ControlError(f"camera {camera_id!r} comes from discovery, not the config "
                               "file; its recording cannot be switched here")

        return self._change_config(edit)

    # -- for the supervisor (its own thread) ---------------------------------------------

    def run_pending(self) -> None:
        while True:
            try:
                action, future = self._pending.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(action())
            except BaseException as exc:  # reported to the caller, never to the loop
                future.set_exception(exc)

    def publish_status(self, status: dict[str, Any]) -> None:
        self._status = status

    # -- helpers -------------------------------------------------------------------------

    def _known(self, camera_id: str) -> str:
        if camera_id not in self._supervisor.cameras:
            raise ControlError(f"unknown camera {camera_id!r}")
        return camera_id

    def _call(self, action: Callable[[], T], timeout: float = DEFAULT_TIMEOUT_S) -> T:
        future: Future[T] = Future()
        self._pending.put((action, future))
        return future.result(timeout)

    def _change_config(self, edit: Callable[[Mapping[str, Any]], Any]) -> ConfigChange:
        with self._config_lock:
            current = self.config
            document = edit(current.document)
            if not isinstance(document, Mapping):
                raise ControlError("a configuration must be a table (a JSON object)")
            masked = unresolved_masks(document)
            if masked:
                raise ControlError(f"{masked[0]}: holds a masked secret (***) that matches no "
                                   "running value; send the real one")
            path = Path(current.source)
            new = parse_config(document, str(path), path.resolve().parent,
                               section_readers_of(self._supervisor.pm))
            try:
                write_document(path, document)
            except (OSError, TypeError, ValueError) as exc:
                raise ControlError(f"cannot write {path}: {exc}") from exc
            return self._call(lambda: self._supervisor.apply_config(new))


__all__ = ["ApplianceControl", "ConfigChange", "ConfigError", "ControlError"]
