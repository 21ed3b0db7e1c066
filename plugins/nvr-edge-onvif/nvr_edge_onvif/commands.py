"""What operators do with discovery at run time: `discover` (probe now, with credentials),
`preview_camera` (its picture, through the built-in `test_stream`) and `adopt_camera`.
Offered through `nvr_commands`, so MQTT (`<prefix>/<id>/request/adopt_camera`) and HTTP
expose them alike. Credentials come in the arguments and go only to the camera (as digests)
and into the camera's URL in the config: never into an answer or a log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from nvr_edge import Appliance, CameraCandidate, Command, ControlError, DiscoveryRequest, Param
from nvr_edge_onvif.adopt import adopt, asked, credentials_of, heard, with_credentials
from nvr_edge_onvif.registry import Registry
from nvr_edge_onvif.snapshot import snapshot_answer
from nvr_edge_onvif.soap import OnvifError

log = logging.getLogger(__name__)
DEFAULT_WIDTH, MAX_WIDTH = 640, 1920  # as the built-in test_stream

USER = Param("string", "the user to try on the cameras", required=False)
PASSWORD = Param("string", "that user's password (never echoed or logged)", required=False)
MAX_TIMEOUT_S = 30.0


def onvif_commands(appliance: Appliance, registry: Registry,
                   discover: Callable[[DiscoveryRequest], list[CameraCandidate]]
                   ) -> list[Command]:
    def discover_now(args: Mapping[str, Any]) -> dict[str, Any]:
        credentials = credentials_of(args)
        timeout_s = float(args.get("timeout_s", 3.0))
        if not 0 < timeout_s <= MAX_TIMEOUT_S:
            raise ControlError(f"timeout_s must be in (0, {MAX_TIMEOUT_S:g}]")
        hosts = args.get("hosts", [])
        interfaces = args.get("interfaces") or appliance.config.sections["onvif"].interfaces
        if not all(isinstance(h, str) for h in [*hosts, *interfaces]):
            raise ControlError("hosts and interfaces are arrays of strings")
        request = DiscoveryRequest(
            timeout_s=timeout_s, user=credentials.user if credentials else None,
            password=credentials.password if credentials else None, hosts=tuple(hosts),
            interfaces=tuple(interfaces))
        found = discover(request)  # every camera found lands in the registry too
        return {"candidates": [c.public(request.user) for c in found]}

    def adopt_camera(args: Mapping[str, Any]) -> dict[str, Any]:
        return adopt(appliance, registry, args["id"], args.get("camera"), args.get("name"),
                     credentials_of(args))

    def preview_camera(args: Mapping[str, Any]) -> dict[str, Any]:
        # the camera's snapshot where it has one (no RTSP session, no decoding a GOP), else
        # the sub stream where there is one: the lighter picture to fetch and decode
        credentials = credentials_of(args)
        candidate, roles = asked(heard(registry, args["id"]), credentials)
        width = args.get("max_width", DEFAULT_WIDTH)
        if not 16 <= width <= MAX_WIDTH:
            raise ControlError(f"argument 'max_width': {width} is not in 16..{MAX_WIDTH}")
        snapshot_problem = ""
        if candidate.snapshot_url:
            try:
                return {"id": args["id"], **snapshot_answer(candidate.snapshot_url,
                                                            credentials, width)}
            except (OnvifError, ValueError) as exc:  # ValueError: not a decodable JPEG
                snapshot_problem = str(exc)
                log.info("preview of %s: snapshot refused (%s): its stream instead",
                         args["id"], exc)
        url = with_credentials(roles.get("sub", roles["main"]), credentials)
        shot = appliance.run_command("test_stream", {"url": url, "max_width": width})
        return {"id": args["id"], "stream": "sub" if "sub" in roles else "main", **shot,
                **({"snapshot_problem": snapshot_problem} if snapshot_problem else {})}

    def ignore_camera(args: Mapping[str, Any]) -> dict[str, Any]:
        urn, ignore = args["id"], args.get("ignore", True)

        def mark(document: dict[str, Any]) -> dict[str, Any]:
            onvif = dict(document.get("onvif", {}))
            kept = [u for u in onvif.get("ignored", []) if u != urn]
            return {**document, "onvif": {**onvif, "ignored": kept + ([urn] if ignore
                                                                       else [])}}

        return {"id": urn, "ignored": ignore, **appliance.edit_config(mark).as_dict()}

    return [
        Command("discover", "probe for ONVIF cameras now (and ask them with the credentials)",
                discover_now, {
                    "user": USER, "password": PASSWORD,
                    "timeout_s": Param("number", "seconds to wait for replies (default 3)",
                                       required=False),
                    "hosts": Param("array", "hosts or subnets to probe directly",
                                   required=False),
                    "interfaces": Param("array", "interfaces to probe (default: every one)",
                                        required=False)}),
        Command("adopt_camera", "add a discovered camera to the config and record it",
                adopt_camera, {
                    "id": Param("string", "the candidate's id (its endpoint URN)"),
                    "camera": Param("string", "the new camera's id (default: from its name)",
                                    required=False),
                    "name": Param("string", "a display name", required=False),
                    "user": USER, "password": PASSWORD}),
        Command("ignore_camera", "leave a found camera out of the list offered for adoption "
                "(kept in [onvif] ignored; ignore=false offers it again)", ignore_camera, {
                    "id": Param("string", "the candidate's id (its endpoint URN)"),
                    "ignore": Param("boolean", "false: offer it again", required=False)}),
        Command("preview_camera", "a discovered camera's picture before it is adopted (its "
                "sub stream, else its main, opened once with the credentials)",
                preview_camera, {
                    "id": Param("string", "the candidate's id (its endpoint URN)"),
                    "user": USER, "password": PASSWORD,
                    "max_width": Param("integer", "the picture's width at most",
                                       required=False)}),
    ]
