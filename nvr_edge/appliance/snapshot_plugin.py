"""Built-in plugin `snapshots`: commands `camera_snapshot` (a view token's: a camera's
picture now, else its last recorded one) and `test_stream` (admin: open a stream URL once,
say what it carries and show its picture, before the camera is added). Over MQTT and HTTP
alike (`POST /api/commands/<name>`); the JPEG travels base64 in the answer."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from nvr_edge.api import Appliance, Command, CommandError, ControlError, Param
from nvr_edge.appliance.snapshots import describe, from_live, from_recording, from_url
from nvr_edge.catalog.base import Catalog, CatalogError
from nvr_edge.config import Config
from nvr_edge.encode.still import DEFAULT_WIDTH, MAX_WIDTH
from nvr_edge.hookspecs import hookimpl
from nvr_edge.urls import url_problem
from nvr_edge.v4l2_source import is_v4l2_url, parse_v4l2_url

log = logging.getLogger(__name__)
LIVE_WAIT_S = 6.0  # a feed that starts on demand sends its first keyframe within a GOP
TEST_TIMEOUT_S = 10.0
MAX_TEST_TIMEOUT_S = 30.0
STREAM_SCHEMES = ("rtsp", "rtsps")


class Snapshots:
    def __init__(self) -> None:
        self.appliance: Appliance | None = None
        self.catalog: Catalog | None = None

    def camera(self, args: Mapping[str, Any], allowed: frozenset[str] | None = None
               ) -> dict[str, Any]:
        appliance, catalog = self.appliance, self.catalog
        assert appliance is not None and catalog is not None
        camera = args["camera"]
        known = {c.id for c in appliance.config.cameras}
        if camera not in known or (allowed is not None and camera not in allowed):
            raise CommandError(f"unknown camera {camera!r}")
        width = _width(args)
        shot = from_live(appliance.live, camera, LIVE_WAIT_S, width)
        if shot is None:
            try:
                shot = from_recording(catalog, camera, width)
            except CatalogError as exc:
                raise ControlError(f"camera {camera}: no picture: it sends none now, and the "
                                   f"catalog cannot say what it recorded ({exc})") from None
        if shot is None:
            raise ControlError(f"camera {camera}: no picture: it sends none now and recorded "
                               "none in the last 24 hours")
        return {"camera": camera, **describe(shot)}

    def test_stream(self, args: Mapping[str, Any]) -> dict[str, Any]:
        url = args["url"]
        if is_v4l2_url(url):
            try:
                parse_v4l2_url(url)
            except ValueError as exc:
                raise CommandError(f"argument 'url': {exc}") from None
        elif problem := url_problem(url, STREAM_SCHEMES, "an rtsp:// or rtsps:// URL"):
            raise CommandError(f"argument 'url': {problem}")
        timeout = args.get("timeout_s", TEST_TIMEOUT_S)
        if not 0 < timeout <= MAX_TEST_TIMEOUT_S:
            raise CommandError(f"argument 'timeout_s': {timeout} is not in (0, "
                               f"{MAX_TEST_TIMEOUT_S:g}]")
        try:
            shot, facts = from_url(url, float(timeout), _width(args))
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        return {**facts, **describe(shot)}


def _width(args: Mapping[str, Any]) -> int:
    width = args.get("max_width", DEFAULT_WIDTH)
    if not 16 <= width <= MAX_WIDTH:
        raise CommandError(f"argument 'max_width': {width} is not in 16..{MAX_WIDTH}")
    return int(width)


SNAPSHOTS = Snapshots()
WIDTH = Param("integer", f"the picture's width at most (16..{MAX_WIDTH}, default "
                         f"{DEFAULT_WIDTH}); the aspect is kept", required=False)


@hookimpl
def nvr_startup(config: Config, catalog: Catalog, appliance: Appliance) -> None:
    SNAPSHOTS.appliance, SNAPSHOTS.catalog = appliance, catalog


@hookimpl
def nvr_commands(appliance: Appliance) -> list[Command]:
    return [
        Command("camera_snapshot", "a camera's picture now (its live stream), else the last "
                "one recorded, as a base64 JPEG", SNAPSHOTS.camera,
                {"camera": Param("string", "the camera's id"), "max_width": WIDTH},
                action="view", run_scoped=SNAPSHOTS.camera),
        Command("test_stream", "open a stream URL once: its codec, size, rate, audio and "
                "first picture (base64 JPEG), or why it cannot be read", SNAPSHOTS.test_stream,
                {"url": Param("string", "rtsp://user:password@host/path, or a v4l2: URL"),
                 "timeout_s": Param("number", f"give up after (default {TEST_TIMEOUT_S:g}, "
                                    f"at most {MAX_TEST_TIMEOUT_S:g})", required=False),
                 "max_width": WIDTH}),
    ]
