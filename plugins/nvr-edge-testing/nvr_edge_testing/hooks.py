"""A recorder of every hook call an appliance makes (like pytest's HookRecorder).

The appliance calls observer hooks one implementation at a time (so that a raising plugin
cannot stop it), past pluggy's call monitoring; so the recorder is a plugin itself that
implements every hook, is called first and answers nothing.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pluggy

from nvr_edge import hookimpl
from nvr_edge_testing.waiting import wait_for

RECORDER_NAME = "nvr_hooks"


@dataclass(frozen=True)
class HookCall:
    name: str
    kwargs: dict[str, Any]
    at: float  # time.monotonic()

    def __getattr__(self, arg: str) -> Any:  # call.segment, like pytest's ParsedCall
        try:
            return self.kwargs[arg]
        except KeyError:
            raise AttributeError(arg) from None


class HookRecorder:
    def __init__(self) -> None:
        self.calls: list[HookCall] = []
        self._lock = threading.Lock()

    def attach(self, pm: pluggy.PluginManager) -> None:
        """Register on `pm` as plugin `nvr_hooks`, spying on every hook it specifies."""
        spy = SimpleNamespace()
        for name, caller in vars(pm.hook).items():
            if caller.spec is not None:
                setattr(spy, name, self._spy(name, caller.spec.argnames))
        pm.register(spy, name=RECORDER_NAME)

    def _spy(self, name: str, argnames: tuple[str, ...]) -> Callable[..., None]:
        def record(*args: Any) -> None:
            call = HookCall(name, dict(zip(argnames, args, strict=True)), time.monotonic())
            with self._lock:
                self.calls.append(call)

        # pluggy reads the arguments to pass from the signature
        record.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in argnames])
        return hookimpl(tryfirst=True)(record)

    def getcalls(self, name: str) -> list[HookCall]:
        """The calls of hook `name` so far, oldest first."""
        with self._lock:
            return [c for c in self.calls if c.name == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 60) -> list[HookCall]:
        """At least `count` calls of `name`, waiting up to `timeout` s for them."""
        return wait_for(lambda: len(self.getcalls(name)) >= count and self.getcalls(name),
                        timeout, f"{count} call(s) of {name}")
