"""The appliance tests' camera: the simulated camera's ONVIF face on loopback, found by the
box's ONVIF plugin through a directed probe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nvr_edge_onvif.plugin import OnvifDiscovery
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.onvif import OnvifFace, onvif_camera_of, snapshot_jpeg
from nvr_edge_testing.waiting import free_port


@pytest.fixture
def face_name() -> str:
    return "Front door"


@pytest.fixture
def face_snapshot() -> bytes | None:
    """The face's GetSnapshotUri JPEG (a test may parametrize another, or None: none)."""
    return snapshot_jpeg()


@pytest.fixture
def face(nvr_camera: SimCameraServer, face_name: str,
         face_snapshot: bytes | None) -> Iterator[OnvifFace]:
    camera = onvif_camera_of(nvr_camera, name=face_name, snapshot=face_snapshot)
    with OnvifFace(camera, http_host="127.0.0.1",
                   discovery_port=free_port("127.0.0.1"), multicast=False) as running:
        yield running


@pytest.fixture
def nvr_plugins(face: OnvifFace) -> dict[str, Any]:
    # loopback carries no multicast: the box finds the face by a directed probe, and its
    # listener (bound to the port, in no group) gets Hellos sent to it unicast
    return {"onvif": OnvifDiscovery(interfaces=list, port=face.discovery_port)}
