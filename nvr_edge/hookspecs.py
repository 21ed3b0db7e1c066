"""Every hook nvr-edge calls. Plugins implement them with `@nvr_edge.hookimpl`.

Hooks are called with keyword arguments, so a hook may gain an argument in a later
release without breaking plugins that do not ask for it. Each docstring says where the
hook runs (main process or camera worker) and in which version it appeared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from argparse import _SubParsersAction
    from collections.abc import Callable
    from typing import Any

    from nvr_edge.api import Appliance, Command, RemoteSegment, TokenVerifier, WebRoute
    from nvr_edge.candidates import CameraCandidate, DiscoveryRequest
    from nvr_edge.catalog import Catalog
    from nvr_edge.config import CameraConfig, Config, ConfigTable
    from nvr_edge.encode.offer import EncoderOffer
    from nvr_edge.models import Alert, SegmentRecord
    from nvr_edge.storage.writer import SegmentWriterFactory

hookspec = pluggy.HookspecMarker("nvr_edge")
hookimpl = pluggy.HookimplMarker("nvr_edge")


@hookspec
def nvr_config_sections() -> dict[str, Callable[[ConfigTable], Any]]:
    """Name the top-level config tables this plugin owns, each with the function that reads
    it (called with the table even when the file lacks it: `table.present` says which).

    What a reader returns lands in `config.sections[name]`; its errors are `ConfigError`s
    (raise them with `table.error(key, problem)`). Any process that loads a config; must
    be cheap and side-effect free. Added in 0.2.
    """


@hookspec
def nvr_discover_cameras(config: Config) -> list[CameraConfig]:
    """Return cameras this plugin knows of (static config, ONVIF, V4L2 ...).

    Main process, at start-up. Results of all plugins are merged; the first plugin to
    name a camera id wins. Added in 0.1.
    """


@hookspec
def nvr_camera_candidates(request: DiscoveryRequest) -> list[CameraCandidate]:
    """Look for cameras not yet adopted (ONVIF on the LAN, USB, a vendor's API) for
    `request.timeout_s`, then return what was found (asking each found camera may take a
    bounded while longer), with `request`'s credentials tried on each. Never raise for
    what a device sent. `nvr-edge discover`; blocking, so call it off any event loop.
    Added in 0.3.
    """


@hookspec(firstresult=True)
def nvr_catalog_open(url: str, create: bool, device: str) -> Catalog | None:
    """Open the catalog for `url` if this plugin's backend serves its scheme, else None.

    `create` False (read-only tools such as `check`): never create or migrate the catalog;
    a missing or damaged one is a CatalogError. `device`: this box's `[device] id`, which a
    catalog shared by many boxes keeps on every row (a box's own catalog may ignore it).
    Main process and CLI commands. Added in 0.1 (`create` in 0.2, `device` in 0.3).
    """


@hookspec(firstresult=True)
def nvr_segment_writer_factory(camera: CameraConfig, config: Config) -> SegmentWriterFactory | None:
    """Return the factory that writes this camera's segments, or None to pass.

    Camera worker process. The built-in factory writes fragmented MP4 to the SSD cache.
    Added in 0.1.
    """


@hookspec
def nvr_segment_closed(segment: SegmentRecord, config: Config) -> None:
    """A segment file was closed and its catalog row written (`segment.id` is set).

    Main process; must not block (hand slow work to a thread). Added in 0.1.
    """


@hookspec
def nvr_camera_state(camera_id: str, state: str, reason: str, config: Config) -> None:
    """A camera changed state (see `nvr_edge.models.CameraState`). Main process. Added in 0.1."""


@hookspec
def nvr_tier_state(tier: str, state: str, reason: str, config: Config) -> None:
    """A storage tier changed state: "ok" or "degraded" (e.g. the HDD is missing, read-only
    or full, and segments stay on the SSD cache until it is back). Main process. Added in 0.1.
    """


@hookspec
def nvr_alert(alert: Alert, config: Config) -> None:
    """Something an operator must know (camera offline, retries exhausted, disk trouble).

    Main process. Added in 0.1.
    """


@hookspec
def nvr_startup(config: Config, catalog: Catalog, appliance: Appliance) -> None:
    """The appliance has started: recovery is done and camera workers are being launched.

    `appliance` is how a plugin acts on the running appliance from its own threads (status,
    restart a camera, change the configuration). Main process. Added in 0.1; `appliance`
    in 0.2.
    """


@hookspec
def nvr_status(status: dict[str, Any], config: Config) -> None:
    """The appliance's status snapshot, every 2 s (the same data as `nvr-edge status
    --json`: cameras with ingest rates, tiers with backlog, system load). Read-only; must
    not block. Main process. Added in 0.2.
    """


@hookspec
def nvr_status_part(config: Config) -> dict[str, Any] | None:
    """This plugin's part of the status snapshot, e.g. `{"s3": {"queued": 3, ...}}`: merged
    into the status's "plugins" table beside "failures", so `nvr-edge status --json`, the
    status file, MQTT health and `nvr_status` carry it. Asked every 2 s: answer from
    memory, never block. Main process. Added in 0.3.
    """


@hookspec
def nvr_commands(appliance: Appliance) -> list[Command]:
    """Name the commands this plugin answers (`nvr_edge.Command`: name, summary, argument
    schema, the token action that may call it, the function that runs it).

    Transports list and run them alike: MQTT at `<prefix>/<id>/request/<name>`, HTTP at
    `POST /api/commands/<name>`; arguments are checked against the schema first, so every
    transport refuses a bad request with the same words. Asked whenever a transport lists
    or runs commands (cheap, no side effects). Main process. Added in 0.3.
    """


@hookspec
def nvr_cli_commands(subparsers: _SubParsersAction) -> None:
    """Add `nvr-edge` subcommands: `p = subparsers.add_parser(name, help=...)`, its
    arguments, then `p.set_defaults(nvr_run=run)` where `run(args, pm) -> int` is the exit
    code. The CLI process. Added in 0.3.
    """


@hookspec
def nvr_web_routes(appliance: Appliance) -> list[WebRoute]:
    """Name the HTTP routes this plugin adds to the web plugin's server (`nvr_edge.WebRoute`:
    method, path, aiohttp handler, the token action it requires).

    The web plugin serves them beside its own, behind the same token check (the action on
    the path's `{camera}`, or on every camera) and the same JSON error shape. Asked when
    the server starts (and restarts after a config change). Main process. Added in 0.3.
    """


@hookspec
def nvr_check(config: Config, catalog: Catalog) -> list[tuple[str, str, str]]:
    """Compare what this plugin keeps elsewhere with the catalog, for `nvr-edge check`:
    return differences as `(kind, path, detail)` (e.g. `("object-missing", path, key)`),
    each counted as an unrepaired difference. Read-only: never change catalog or store.
    The CLI process. Added in 0.3.
    """


@hookspec
def nvr_object_store(config: Config) -> str | None:
    """Name the off-box store this plugin copies closed segments to under `config` (e.g.
    "s3://bucket/prefix"), or None.

    While any plugin names one, `storage.delete_policy = "archived"` means "verified in
    object storage": emergency cleanup deletes only segments whose copy the plugin has
    recorded (`Catalog.set_object_copy`), from either tier. Asked at start-up and after a
    config change. Main process. Added in 0.3.
    """


@hookspec(firstresult=True)
def nvr_segment_reader(segment: SegmentRecord, catalog: Catalog,
                       config: Config) -> RemoteSegment | None:
    """A segment whose file left the box (status "remote", see `nvr_object_store`): return
    a reader of its copy (`nvr_edge.RemoteSegment`), or None if it is not yours. Build it
    without touching the network (failures belong in its `chunks`); `catalog` says where
    the copy is (`catalog.object_copy(segment.path)`). The web plugin's playback and
    download call it (main process), and `nvr-edge export` (the CLI process). Added in 0.3.
    """


@hookspec
def nvr_encoders(config: Config) -> list[EncoderOffer]:
    """Offer H.264 encoders (`nvr_edge.EncoderOffer`: name, engine, device node, priority,
    options, and the module-level function that opens one for an `EncodeTarget`).

    Offers are probed by test-encoding in a child process before any is used, ranked
    (the board's `encoder.prefer` first, software last) and used through an
    `EncoderSession` that falls back at run time. Cheap and side-effect free: never open
    a device here. Any process. Added in 0.4.
    """


@hookspec
def nvr_config_changed(config: Config, previous: Config) -> None:
    """A new configuration was applied at run time (e.g. through a fleet command); plugins
    whose own section changed should take it up. Main process. Added in 0.2.
    """


@hookspec
def nvr_token_verifier(config: Config) -> TokenVerifier | None:
    """A function that checks a viewer's token for another output than the plugin's own:
    `verify(token, action, camera)` returns the token's subject (for logs) or raises
    `TokenRefused(status, reason)`. Offered by the plugin that issues tokens (the web
    plugin); the RTSP restream takes the first one. It may block (a JWKS fetch): call it
    off an event loop. Main process. Added in 0.3.
    """


@hookspec
def nvr_shutdown(config: Config) -> None:
    """The appliance is stopping; every worker has closed its segments. Added in 0.1."""


def hook_names() -> list[str]:
    return sorted(name for name, value in globals().items()
                  if name.startswith("nvr_") and callable(value))
