"""What operators do with pushes at run time: `rtmp.start`, `rtmp.stop`, `rtmp.list`.

Offered through `nvr_commands`, so every transport (MQTT, HTTP) exposes them alike. Pushes
started here run until stopped and are not written to the config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nvr_edge import Command, CommandError, ControlError, Param

from .pushes import Pushes
from .settings import PushTarget, check_url

Scope = frozenset[str] | None  # the cameras a scoped caller may act on; None: every one
CAMERA = Param("string", "the camera id whose live stream is pushed")
URL = Param("string", "rtmp://host/app/stream or rtmps://... (the stream key is a secret)")


def push_commands(pushes: Pushes) -> list[Command]:
    """Each command runs for every camera (`run`) or, for a camera-scoped caller, for its
    cameras only (`run_scoped`): other cameras' pushes are neither listed nor touched."""
    def known_camera(camera: str, scope: Scope) -> str:
        outside = scope is not None and camera not in scope  # as if it did not exist
        if outside or camera not in {c.id for c in pushes.appliance.config.cameras}:
            raise CommandError(f"unknown camera {camera!r}")
        return camera

    def start(args: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
        problem = check_url(args["url"])
        if problem:
            raise CommandError(f"argument 'url' {problem}")
        pushes.start(PushTarget(known_camera(args["camera"], scope), args["url"]))
        return {"pushes": pushes.describe(scope)}

    def stop(args: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
        camera, url = known_camera(args["camera"], scope), args.get("url")
        if not pushes.stop_camera(camera, url):
            where = f" to {PushTarget(camera, url).display}" if url else ""
            raise ControlError(f"no push of {camera}{where} is running")
        return {"pushes": pushes.describe(scope)}

    def listing(_args: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
        return {"pushes": pushes.describe(scope)}

    def command(name: str, summary: str, run: Callable[[Mapping[str, Any], Scope], Any],
                params: Mapping[str, Param]) -> Command:
        return Command(name, summary, lambda args: run(args, None), params,
                       run_scoped=run)

    return [
        command("rtmp.start", "push a camera's live stream to an RTMP server (until stopped)",
                start, {"camera": CAMERA, "url": URL}),
        command("rtmp.stop", "stop a camera's pushes (only the one to `url`, when given)",
                stop, {"camera": CAMERA, "url": Param("string", URL.doc, required=False)}),
        command("rtmp.list", "the pushes now running, with their state", listing, {}),
    ]
