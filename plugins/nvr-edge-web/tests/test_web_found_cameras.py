"""The cameras page's "Found cameras" and the system page's alerts in headless Chromium,
with the appliance in this process (the ONVIF plugin finds the simulated camera's ONVIF
face on loopback through a directed probe: loopback carries no multicast)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_onvif.plugin import OnvifDiscovery
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.chromium.cdp import CHROMIUM, chromium_page
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.onvif import OnvifFace, onvif_camera_of
from nvr_edge_testing.waiting import free_port, wait_for
from nvr_edge_web.auth import authenticator_for
from web_page import click, fill, text, until

from nvr_edge.models import Alert, AlertLevel

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
WEB_PORT = free_port()


@pytest.fixture
def face(nvr_camera: SimCameraServer) -> Iterator[OnvifFace]:
    with OnvifFace(onvif_camera_of(nvr_camera, name="Porch"), http_host="127.0.0.1",
                   discovery_port=free_port("127.0.0.1"), multicast=False) as running:
        yield running


@pytest.fixture
def nvr_plugins(face: OnvifFace) -> dict[str, Any]:
    return {"onvif": OnvifDiscovery(interfaces=list, port=face.discovery_port)}


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any]) -> dict[str, Any]:
    # every discover also probes [onvif] hosts: the page's Search sends only credentials
    return {**nvr_config, "web": {"listen": f"127.0.0.1:{WEB_PORT}"},
            "onvif": {"listen": True, "hosts": ["127.0.0.1"]}}


def test_found_cameras_are_added_with_the_add_button_and_alerts_show(
        nvr_appliance: RunningAppliance, nvr_camera: SimCameraServer, face: OnvifFace,
        tmp_path: Path) -> None:
    password = nvr_camera.password
    assert password and nvr_camera.user
    admin = authenticator_for(nvr_appliance.config).issue("tester", ["admin"], "*", 600)
    url = f"http://127.0.0.1:{WEB_PORT}/?token={admin}#cameras"
    item = f"#found-list li[data-urn='{face.camera.urn}']"

    async def adopt() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with chromium_page(url, tmp_path / "p") as page:
            await until(page, "!document.querySelector('#found').hidden", 30,
                        "the Found cameras list (the ONVIF plugin's status part)")
            await fill(page, "#found-user", nvr_camera.user or "")
            await fill(page, "#found-password", password)
            await click(page, "#found-search button[type=submit]")
            await until(page, f"!!document.querySelector(\"{item}\")", 30, "the candidate")
            seen["name"] = await text(page, f"{item} .candidate-name")
            await click(page, f"{item} .candidate-add")
            await fill(page, f"{item} input[name=camera]", "porch")
            await fill(page, f"{item} input[name=user]", nvr_camera.user or "")
            await fill(page, f"{item} input[name=password]", password)
            await click(page, f"{item} .candidate-preview")  # its picture before adopting
            seen["preview"] = await until(
                page, f"(() => {{ const i = document.querySelector(\"{item} .candidate-picture"
                f"\"); return !i.hidden && i.complete && i.naturalWidth > 0 && [i.alt, "
                f"document.querySelector(\"{item} .candidate-facts\").textContent]; }})()",
                30, "the preview's picture")
            seen["cameras_after_preview"] = [c.id for c in nvr_appliance.config.cameras]
            await fill(page, f"{item} input[name=password]", "not-it")
            await click(page, f"{item} button[type=submit]")
            seen["refused"] = await until(
                page, f"document.querySelector(\"{item} .candidate-error\").textContent",
                30, "the refusal")
            seen["cameras_then"] = [c.id for c in nvr_appliance.config.cameras]
            await fill(page, f"{item} input[name=password]", password)
            await click(page, f"{item} button[type=submit]")
            seen["adopted"] = await until(
                page, f"document.querySelector(\"{item}\").dataset.adopted", 30, "adopted")
            await until(page, "!!document.querySelector('#camera-list [data-camera=porch]')",
                        10, "porch in the camera list")
            seen["password_left"] = await page.evaluate(
                "[...document.querySelectorAll('input')].filter((i) => i.value === "
                f"'{password}').map((i) => i.id || i.name)"
                f".concat(document.body.innerText.includes('{password}') ? ['text'] : [])")

            # Ignore: the item leaves the list, and stays out on the next refresh
            await click(page, f"{item} .candidate-ignore")
            await until(page, f"!document.querySelector(\"{item}\")", 10, "ignored")
            await page.evaluate("location.hash = '#system'")
            await page.evaluate("location.hash = '#cameras'")
            seen["ignored_listed"] = await page.evaluate(
                f"!!document.querySelector(\"{item}\")")
            seen["ignored_config"] = nvr_appliance.config.document["onvif"].get("ignored")
            wait_for(lambda: nvr_appliance.segments("porch"), 60, "a segment of porch")
            nvr_appliance.supervisor.alert(Alert("archive_unavailable", AlertLevel.CRITICAL,
                                                 "the archive disk is missing"))
            await page.evaluate("location.hash = '#system'")
            seen["alert"] = await until(
                page, "[...document.querySelectorAll('#system-alerts li')].map((li) =>"
                " li.textContent).find((t) => t.includes('the archive disk is missing'))", 10,
                "the alert on the system page")
            seen["porch_state"] = await until(
                page, "document.querySelector('#system-cameras tr[data-camera=porch] .state')"
                "?.textContent === 'online'", 10, "porch online on the system page")
            seen["onvif_part"] = await text(page, "#system-plugins [data-plugin=onvif] pre")
        return seen

    seen = asyncio.run(adopt())
    assert seen["name"] == "Porch"
    assert seen["preview"][0].startswith("Porch: ") and "h264" in seen["preview"][1], seen
    assert "porch" not in seen["cameras_after_preview"]  # a preview writes nothing
    assert "wrong user or password" in seen["refused"], seen["refused"]
    assert "porch" not in seen["cameras_then"]  # the refusal changed nothing
    assert seen["adopted"] == "porch"
    assert seen["ignored_listed"] is False and seen["ignored_config"] == [face.camera.urn]
    assert seen["password_left"] == []  # neither in a field nor shown
    assert "critical" in seen["alert"] and "the archive disk is missing" in seen["alert"]
    assert face.camera.urn in seen["onvif_part"] and password not in seen["onvif_part"]
