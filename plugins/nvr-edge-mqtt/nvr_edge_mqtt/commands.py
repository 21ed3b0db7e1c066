"""Fleet requests: `<prefix>/<id>/request/<action>` in, `.../response/<action>` out.

An action is one of the built-in ones below or any plugin's command (`nvr_commands`, e.g.
`rtmp.start`), run through `appliance.run_command` with the request's other fields as its
arguments; `list_commands` says which there are.

A request is a JSON object; its `transaction` (any JSON value) comes back unchanged with
`status` ok and `data`, or `status` error and `error` (a sentence for the operator). A
request that cannot be parsed or names no known action gets an error response too: the
requester must never wait in vain, and the box must never fall over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from nvr_edge import Appliance, ConfigError, ControlError, redact

from .request_payload import Request, RequestError, parse_request, shorten

__all__ = ["CommandHandler", "Request", "RequestError", "error", "ok", "parse_request"]
log = logging.getLogger(__name__)


def ok(transaction: Any, data: Any) -> dict[str, Any]:
    return {"transaction": transaction, "status": "ok", "data": data}


def error(transaction: Any, message: str) -> dict[str, Any]:
    return {"transaction": transaction, "status": "error", "error": redact(message)}


class CommandHandler:
    """Carries out requests against the running appliance (on the plugin's command thread:
    an action can wait for the supervisor for up to 30 s)."""

    def __init__(self, appliance: Appliance, resync: Callable[[], None],
                 version: str) -> None:
        self.appliance, self.resync, self.version = appliance, resync, version
        self.actions: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "ping": self._ping,
            "get_status": lambda args: _only(args) or self.appliance.status(),
            "get_config": lambda args: _only(args) or {"config": self.appliance.public_config()},
            "set_config": self._set_config,
            "restart_camera": self._restart_camera,
            "set_recording": self._set_recording,
            "resync": self._resync,
            "list_commands": self._list_commands,
        }

    def handle(self, request: Request) -> dict[str, Any]:
        try:
            action = self.actions.get(request.action) or self._plugin_command(request.action)
            if action is None:
                known = sorted({*self.actions, *(c.name for c in self.appliance.commands())})
                return error(request.transaction, f"unknown action {request.action!r}; "
                                                  f"known: {', '.join(known)}")
            return ok(request.transaction, action(request.args))
        except (RequestError, ControlError, ConfigError) as exc:
            return error(request.transaction, str(exc))
        except FutureTimeout:
            return error(request.transaction, "the appliance did not carry out the action "
                                              "within 30 s")
        except Exception as exc:  # a bug must cost one error response, not the plugin
            log.exception("request %s failed", request.action)
            return error(request.transaction,
                         f"internal error: {type(exc).__name__}: {shorten(str(exc))}")

    # -- actions -------------------------------------------------------------------------

    def _ping(self, args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args)
        return {"pong": True, "version": self.version,
                "uptime_s": self.appliance.status().get("uptime_s")}

    def _set_config(self, args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, "config", "patch")
        if ("config" in args) == ("patch" in args):
            raise RequestError("give either `config` (the whole document, as get_config "
                               "returns it) or `patch` (an RFC 7386 merge patch)")
        if "config" in args:
            document = _table(args, "config")
            return self.appliance.set_config(document).as_dict()
        return self.appliance.patch_config(_table(args, "patch")).as_dict()

    def _restart_camera(self, args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, "camera")
        camera = _camera(args)
        try:
            self.appliance.restart_camera(camera)
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        return {"camera": camera}

    def _set_recording(self, args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args, "camera", "recording")
        camera = _camera(args)
        on = args.get("recording")
        if not isinstance(on, bool):
            raise RequestError("`recording` must be true or false")
        change = self.appliance.set_recording(camera, on)
        return {"camera": camera, "recording": on, **change.as_dict()}

    def _resync(self, args: Mapping[str, Any]) -> dict[str, Any]:
        _only(args)
        self.resync()
        return {}

    def _list_commands(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The plugins' commands (name, summary, params) next to the built-in actions."""
        _only(args)
        return {"actions": sorted(self.actions),
                "commands": [c.describe() for c in self.appliance.commands()]}

    def _plugin_command(self, name: str) -> Callable[[Mapping[str, Any]], Any] | None:
        if not any(c.name == name for c in self.appliance.commands()):
            return None
        return lambda args: self.appliance.run_command(name, args)


def _only(args: Mapping[str, Any], *allowed: str) -> None:
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise RequestError(f"unknown argument {shorten(repr(unknown[0]))}"
                           + (f"; this action takes {', '.join(allowed)}" if allowed else
                              "; this action takes none"))


def _camera(args: Mapping[str, Any]) -> str:
    camera = args.get("camera")
    if not isinstance(camera, str) or not camera:
        raise RequestError("`camera` (a camera id) is required")
    return camera


def _table(args: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = args[name]
    if not isinstance(value, dict):
        raise RequestError(f"`{name}` must be a JSON object")
    return value
