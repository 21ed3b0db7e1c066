"""What a plugin holds of the running appliance: the handle hooks receive, and its errors.

Protocols, not the engine's classes, so a plugin (and its type checker, and its tests)
never reaches into the supervisor: the appliance implements them, a test may fake them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nvr_edge.config import Config
    from nvr_edge.live.wire import LivePacket, StreamInfo


class ControlError(Exception):
    """An action that cannot be carried out; the message says why, for the requester."""


class TokenRefused(Exception):
    """A viewer's token refused by `nvr_token_verifier`'s verifier: `status` 401 (not a
    valid token) or 403 (valid, but not for this action or camera); `reason` says which."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


# verify(token, action, camera) -> the token's subject (for logs), or raises TokenRefused
TokenVerifier = Callable[[str, str, str | None], str]


@dataclass
class ConfigChange:
    """What applying a new configuration did."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    restart_required: list[str] = field(default_factory=list)  # keys read only at start-up

    def as_dict(self) -> dict[str, list[str]]:
        return dict(self.__dict__)


class LiveViewer(Protocol):
    """One subscriber of a camera's live packets (see `LiveRelay.subscribe`)."""

    camera: str
    info: StreamInfo | None
    closed: str | None

    def take(self) -> list[LivePacket]: ...

    def close(self, reason: str = ...) -> None: ...


class LiveRelay(Protocol):
    """The cameras' live packets in the main process."""

    def subscribe(self, camera: str, notify: Callable[[], None],
                  stream: str = ...) -> LiveViewer:
        """`stream`: "live" (default: what the live view shows) or "main" (a camera with
        a sub stream: its main stream, from the worker's one connection)."""
        ...

    def unsubscribe(self, viewer: Any) -> None: ...

    def stats(self) -> dict[str, dict[str, object]]: ...

    def info(self, camera: str, stream: str = ...) -> StreamInfo | None:
        """The stream's codecs and size, once its worker has sent them (None before)."""
        ...

    def rungs(self, camera: str) -> list[dict[str, Any]]:
        """The camera's rendition ladder: name, width, height, kbps, transcoded, available
        and why not; a transcoded rung ("360p", "240p") is a `subscribe` stream too."""
        ...


class RemoteSegment(Protocol):
    """A segment's copy off the box, read by byte range (hook `nvr_segment_reader`): its
    size is the segment's `bytes`, which the copy was verified to have."""

    where: str  # for messages: "s3://bucket/key"

    def chunks(self, first: int, length: int) -> Iterator[bytes]:
        """Bytes `first` .. `first + length - 1`, in pieces as they arrive. Blocks on the
        network (the caller runs it in a thread); OSError when the store cannot serve."""
        ...


class Appliance(Protocol):
    """The running appliance, as `nvr_startup` hands it to plugins; safe from any thread."""

    @property
    def config(self) -> Config: ...

    @property
    def live(self) -> LiveRelay: ...

    def status(self) -> dict[str, Any]: ...

    def plugins(self) -> list[dict[str, Any]]: ...

    def public_config(self) -> dict[str, Any]: ...

    def restart_camera(self, camera_id: str) -> None: ...

    def retry_camera(self, camera_id: str) -> None:
        """End the camera's backoff wait: it is tried now, with no restart (a recording
        worker is not disturbed). For a plugin that knows the camera is back."""
        ...

    def set_config(self, document: Mapping[str, Any]) -> ConfigChange: ...

    def patch_config(self, patch: Mapping[str, Any]) -> ConfigChange: ...

    def edit_config(self, edit: Callable[[dict[str, Any]], Mapping[str, Any]]) -> ConfigChange:
        """`edit(a copy of the running document)` -> the new document, run while no other
        change can land: for a read-modify-write, such as appending to `cameras` (a merge
        patch replaces whole arrays, so a patch built from an earlier read loses a camera
        added meanwhile). `edit` may raise ControlError to refuse."""
        ...

    def set_recording(self, camera_id: str, on: bool) -> ConfigChange: ...

    def commands(self) -> list[Command]:
        """Every command the plugins offer (`nvr_commands`), by name."""
        ...

    def run_command(self, name: str, args: Mapping[str, Any]) -> Any:
        """Check `args` against the command's params and run it; CommandError for an
        unknown command or bad arguments, ControlError when it fails."""
        ...

    def call_hook(self, name: str, **kwargs: Any) -> list[Any]:
        """Call hook `name` on every plugin of the running appliance, each on its own: a
        plugin that raises is logged, counted and skipped. The answers that are not None,
        in pluggy's order. For transports that gather what plugins offer (web routes)."""
        ...


# -- commands: what a plugin lets operators do, over every transport ------------------------

# What a token may allow (the web plugin's auth), and so what a command or route may ask for.
ACTIONS = ("view", "playback", "admin")

_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,),
}


@dataclass(frozen=True)
class Param:
    """One argument of a command: a JSON type ("string", "integer", "number", "boolean",
    "object", "array"), whether it must be given, and for whom it is documented."""

    type: str
    doc: str = ""
    required: bool = True
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in _PARAM_TYPES:
            raise ValueError(f"Param type {self.type!r} is not one of {sorted(_PARAM_TYPES)}")

    def check(self, name: str, value: Any) -> None:
        wanted = _PARAM_TYPES[self.type]
        if (isinstance(value, bool) and bool not in wanted) or not isinstance(value, wanted):
            raise CommandError(f"argument {name!r}: expected {self.type}, got "
                               f"{type(value).__name__}")
        if self.choices and value not in self.choices:
            raise CommandError(f"argument {name!r}: {value!r} is not one of "
                               f"{', '.join(map(repr, self.choices))}")


class CommandError(ControlError):
    """A command's arguments are wrong, or the command is unknown (the requester's fault)."""


@dataclass(frozen=True)
class Command:
    """A named action a plugin offers (`nvr_commands`): the MQTT plugin answers it at
    `<prefix>/<id>/request/<name>`, the web plugin at `POST /api/commands/<name>`, both
    with the same arguments, authorization and errors. `run` gets the checked arguments,
    runs on the transport's worker thread, returns JSON-able data or raises ControlError."""

    name: str
    summary: str
    run: Callable[[Mapping[str, Any]], Any]
    params: Mapping[str, Param] = field(default_factory=dict)
    action: str = "admin"  # the token action (view, playback, admin) that may call it
    # For a command that acts camera by camera: run it for a caller allowed only `cameras`
    # (a camera-scoped token). It shows and changes nothing of other cameras, and refuses
    # one outside `cameras` as unknown (CommandError). None: only a caller allowed every
    # camera may run the command.
    run_scoped: Callable[[Mapping[str, Any], frozenset[str]], Any] | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"Command {self.name!r}: action {self.action!r} is not one of "
                             f"{ACTIONS}")

    def checked(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """`args` validated against `params`: unknown, missing and mistyped ones refused."""
        if not isinstance(args, Mapping):
            raise CommandError(f"{self.name}: arguments must be an object, got "
                               f"{type(args).__name__}")
        unknown = sorted(set(args) - set(self.params))
        if unknown:
            raise CommandError(f"{self.name}: unknown argument {unknown[0]!r} "
                               f"(takes: {', '.join(self.params) or 'none'})")
        for name, param in self.params.items():
            if name in args:
                param.check(name, args[name])
            elif param.required:
                raise CommandError(f"{self.name}: missing argument {name!r} ({param.doc})")
        return dict(args)

    def describe(self) -> dict[str, Any]:
        """The command as a transport lists it (JSON)."""
        return {"name": self.name, "summary": self.summary, "action": self.action,
                "params": {n: {"type": p.type, "doc": p.doc, "required": p.required,
                               **({"choices": list(p.choices)} if p.choices else {})}
                           for n, p in self.params.items()}}


# -- web routes: what a plugin serves over the web plugin's HTTP server ----------------------


@dataclass(frozen=True)
class WebRoute:
    """One HTTP route a plugin adds (`nvr_web_routes`). `handler` is an aiohttp handler,
    `async def handler(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse`; the
    core names no aiohttp type, so a plugin without a web side does not need aiohttp.

    The web plugin checks the request's token before the handler runs: it must allow
    `action` on the camera the path names as `{camera}` (on every camera when the path
    names none). `path` is an aiohttp path pattern outside the web plugin's own ones."""

    method: str
    path: str
    handler: Callable[[Any], Awaitable[Any]]
    action: str = "admin"

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"WebRoute action {self.action!r} is not one of {ACTIONS}")
        if not self.path.startswith("/"):
            raise ValueError(f"WebRoute path {self.path!r} must start with /")


def fleet_subcommands(subparsers: Any) -> Any:
    """The subparsers of `nvr-edge fleet`, made by whoever asks first: the core's
    `fleet segments` / `fleet catalog` and a plugin's own (`fleet status`) share the one
    command. Call it from `nvr_cli_commands` with the `subparsers` it is given."""
    fleet = subparsers.choices.get("fleet")
    if fleet is None:
        fleet = subparsers.add_parser("fleet", help="the fleet: its shared catalog, its broker")
        fleet.set_defaults(nvr_fleet_kinds=fleet.add_subparsers(dest="fleet", required=True))
    return fleet.get_default("nvr_fleet_kinds")
