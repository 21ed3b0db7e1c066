"""The plugins' commands over HTTP: `GET /api/commands` lists them, `POST
/api/commands/{name}` runs one with a JSON object of arguments (an empty body: none).

The same commands, argument checks and refusal words as over MQTT (`nvr_edge.Command`);
the token must allow the command's action on every camera (a command acts on the box), or,
for a command that takes a camera scope (`run_scoped`), on the cameras it then acts on.
Statuses: 200 `{"result": ...}`; 400 bad arguments; 404 unknown command; 409 the command
could not be carried out (ControlError); 401/403 the token."""

from __future__ import annotations

import asyncio
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from aiohttp import web

from nvr_edge import Command, CommandError, ControlError, redact

from .auth import Grant, require
from .body import parse_json, read_body
from .context import CONTEXT
from .errors import ApiError
from .guard import authenticate

COMMANDS_ROUTE = "/api/commands"
COMMAND_ROUTE = COMMANDS_ROUTE + "/{name}"


def add_routes(app: web.Application) -> None:
    app.router.add_get(COMMANDS_ROUTE, list_commands)
    app.router.add_post(COMMAND_ROUTE, run_command)


async def list_commands(request: web.Request) -> web.Response:
    """Every command with its schema (any valid token: a description, not an action)."""
    await authenticate(request)
    commands = await asyncio.to_thread(request.app[CONTEXT].appliance.commands)
    return web.json_response({"commands": [c.describe() for c in commands]})


async def run_command(request: web.Request) -> web.Response:
    grant = await authenticate(request)  # 401 before anything about the request is told
    appliance = request.app[CONTEXT].appliance
    name = request.match_info["name"]
    command = await asyncio.to_thread(_find, appliance.commands, name)
    scope = _scope(grant, command)
    args = await _arguments(request)
    try:
        if scope is None:
            result = await asyncio.to_thread(appliance.run_command, name, args)
        else:
            result = await asyncio.to_thread(_run_scoped, command, args, scope)
    except CommandError as exc:
        raise ApiError(400, redact(str(exc))) from None
    except ControlError as exc:
        raise ApiError(409, redact(str(exc))) from None
    except FutureTimeout:
        raise ApiError(504, "the appliance did not carry out the command within 30 s") \
            from None
    return web.json_response({"result": result})


def _scope(grant: Grant, command: Command) -> frozenset[str] | None:
    """None when the token allows the command on every camera; else the cameras a scoped
    command may act on; 403 when neither."""
    if grant.allows(command.action, None):
        return None
    cameras = frozenset(c for c in grant.cameras or () if grant.allows(command.action, c))
    if command.run_scoped is None or not cameras:
        require(grant, command.action, None)  # the 403 with its reason
    return cameras


def _run_scoped(command: Command, args: Any, cameras: frozenset[str]) -> Any:
    assert command.run_scoped is not None
    return command.run_scoped(command.checked(args), cameras)


def _find(commands: Any, name: str) -> Command:
    found = next((c for c in commands() if c.name == name), None)
    if found is None:
        raise ApiError(404, f"unknown command {name!r}")
    return found


async def _arguments(request: web.Request) -> Any:
    """The body's JSON (an empty body: no arguments). What is not an object goes on to the
    command's own check, so its refusal reads as over MQTT."""
    body = await read_body(request)  # 413 past web.max_request_bytes
    if not body.strip():
        return {}
    return parse_json(body)  # 400 when not JSON or nested too deep
