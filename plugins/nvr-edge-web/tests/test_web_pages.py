"""The page's access rules, system page and cameras page in headless Chromium, against the
real appliance with two simulated cameras: what a token may see, the tiers and camera
states, and a camera added, refused, and switched off from the cameras page."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_testing.chromium.cdp import CHROMIUM, chromium_page
from web_box import Box, base, closed_segment, error_of
from web_page import click, controls, fill, press, tab_to, text, until, visible
from web_tokens import claims

from tests.conftest import CAMERA_PASSWORD
from tests.helpers import wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]


def page_url(box: Box, token: str, view: str = "") -> str:
    return f"{base(box)}/?token={token}" + (f"#{view}" if view else "")


def test_me_says_what_the_token_allows(box: Box) -> None:
    error_of(box.get("/api/me"), 401)
    me = box.get("/api/me", box.token(["view"], ["cam1"])).json()
    assert me["actions"] == ["view"] and me["cameras"] == ["cam1"] and me["admin"] is False
    assert 590 <= me["expires_in_s"] <= 600 and me["subject"] == "tester"
    admin = box.get("/api/me", box.token(["admin"], "*")).json()
    assert admin["admin"] is True and admin["cameras"] == "*"
    assert box.get("/api/me", box.token(["admin"], ["cam1"])).json()["admin"] is False


def test_a_working_token_shows_no_form_and_a_view_token_no_admin_controls(
        box: Box, tmp_path: Path) -> None:
    view = box.token(["view"], "*")  # 10 minutes: the expiry notice shows
    long_lived = box.signed(claims(exp=int(time.time()) + 3600,
                                   nvr={"actions": ["view", "admin"], "cameras": "*"}))

    async def look() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with chromium_page(page_url(box, view, "cameras"), tmp_path / "p") as page:
            await until(page, "document.querySelectorAll('#grid .tile').length === 2",
                        what="the two camera tiles")
            seen["form"] = await visible(page, "#login")
            seen["cameras_link"] = await visible(page, "nav a[href='#cameras']")
            seen["cameras_view"] = await visible(page, "#cameras")  # #cameras refused
            seen["expiry"] = await text(page, "#expiry") if await visible(page, "#expiry") \
                else ""
            seen["address"] = await page.evaluate("location.href")
            await page.call("Page.navigate", url=page_url(box, long_lived, "cameras"))
            await until(page, "document.querySelectorAll('#camera-list .camera-row').length"
                        " === 2", what="the admin's camera list")
            seen["admin_expiry"] = await visible(page, "#expiry")
            seen["admin_link"] = await visible(page, "nav a[href='#cameras']")
            await page.call("Page.navigate", url=page_url(box, "not.a.token", ""))
            await until(page, "!document.querySelector('#login').hidden", what="the form")
            seen["refused"] = await text(page, "#login-error")
        return seen

    seen = asyncio.run(look())
    assert seen["form"] is False and seen["cameras_link"] is False
    assert seen["cameras_view"] is False
    assert "expires in" in seen["expiry"], seen
    assert "token=" not in seen["address"]  # taken out of the address bar
    assert seen["admin_expiry"] is False and seen["admin_link"] is True
    assert "refused" in seen["refused"]


def test_the_system_page_shows_tiers_and_camera_states(box: Box, tmp_path: Path) -> None:
    closed_segment(box)  # the cache tier holds a recording
    admin = box.token(["admin"], "*")
    system = box.get("/api/system", admin).json()
    cache = system["tiers"]["cache"]
    assert cache["total_bytes"] > cache["free_bytes"] > 0 and cache["path"]
    # the mover may have taken the segment to the archive already: wherever it is, counted
    held = [t for t in system["tiers"].values() if t["recorded_bytes"]]
    assert held and all(t["days_held"] > 0 and t["oldest"] for t in held), system["tiers"]
    assert "backlog" in cache and system["version"] and system["uptime_s"] >= 0
    assert "plugins" in system
    narrow = box.get("/api/system", box.token(["view"], ["cam1"])).json()
    assert list(narrow["cameras"]) == ["cam1"] and "plugins" not in narrow
    assert "path" not in narrow["tiers"]["cache"]  # box paths are for admins
    other = box.get("/api/system", box.token(["admin"], ["cam9"])).json()  # not every camera
    assert other["cameras"] == {} and "plugins" not in other
    error_of(box.get("/api/system"), 401)

    async def look() -> dict[str, Any]:
        async with chromium_page(page_url(box, admin, "system"), tmp_path / "p") as page:
            await until(page, "!!document.querySelector('#system-tiers [role=meter]')",
                        what="a tier bar")
            await until(page, "document.querySelector('#system-cameras tr[data-camera=cam1]"
                        " .state')?.textContent === 'online'", what="cam1 online")
            # the encoders' probes (admin): the software encoder passed its probe at start
            await until(page, "document.querySelector('#system-encoders tr[data-encoder="
                        "libx264] .state')?.textContent === 'usable'", 60, "libx264 usable")
            return await page.evaluate("""(() => {
              const bar = document.querySelector('.tier[data-tier=cache] [role=meter]');
              return {used: Number(bar.getAttribute('aria-valuenow')),
                      label: bar.getAttribute('aria-valuetext'),
                      fill: document.querySelector('.tier[data-tier=cache] .tier-used').style.width,
                      days: document.querySelector('.tier[data-tier=cache] .tier-days').textContent,
                      rows: [...document.querySelectorAll('#system-cameras tbody tr')]
                        .map((r) => r.dataset.camera),
                      grid: document.querySelector('#grid').hidden,
                      vaapi: document.querySelector(
                        '#system-encoders tr[data-encoder=h264_vaapi]').textContent,
                      about: document.querySelector('#system-about').textContent}; })()""")

    seen = asyncio.run(look())
    after = box.get("/api/system", admin).json()["tiers"]["cache"]  # the disk is shared
    used = sorted(round(100 * (t["total_bytes"] - t["free_bytes"]) / t["total_bytes"])
                  for t in (cache, after))
    assert used[0] - 1 <= seen["used"] <= used[1] + 1, (seen, used)
    assert seen["fill"] == f"{seen['used']}%", seen
    assert "free" in seen["label"] and "holds" in seen["days"], seen
    assert seen["rows"] == ["cam1", "cam2"] and seen["grid"] is True
    assert "failed" in seen["vaapi"] and "no device node" in seen["vaapi"], seen  # no GPU here
    assert system["version"] in seen["about"]


def test_add_refuse_and_switch_off_a_camera_from_the_cameras_page(
        box: Box, tmp_path: Path) -> None:
    admin = box.token(["admin"], "*")
    source = box.config.cameras[0].main  # cam1's camera: a second recorder of it
    config_file = Path(box.config.source)

    async def add() -> list[dict[str, Any]]:
        async with chromium_page(page_url(box, admin, "cameras"), tmp_path / "p") as page:
            await until(page, "document.querySelectorAll('#camera-list .camera-row').length"
                        " === 2", what="the camera list")
            await tab_to(page, "#camera-add")  # by keyboard: Tab to it, Enter opens the form
            await press(page, "Enter")
            await until(page, "!document.querySelector('#camera-form').hidden")
            assert await page.evaluate("document.activeElement.id") == "cf-id"
            tabbed = await tab_to(page, "#camera-form button[type=submit]", 10)
            assert tabbed[:-1] == ["cf-name", "cf-main", "cf-test", "cf-sub", "cf-live",
                                   "cf-retention", "cf-enabled"]
            found = await controls(page)  # the form open: every control named, focusable
            await fill(page, "#cf-id", "cam3")
            await fill(page, "#cf-name", "Side gate")
            # Test the stream: a wrong password refused beside the field, then the picture
            user, _, rest = source.partition("://")[2].partition("@")
            await fill(page, "#cf-main", f"rtsp://{user.split(':')[0]}:Wrong-Pw-1@{rest}")
            await click(page, "#cf-test")
            refused = await until(page, "document.querySelector("
                                  "'.field-error[data-for=main]').textContent", 30,
                                  "the test's refusal beside the main URL")
            assert "401" in refused or "Unauthorized" in refused, refused
            assert "Wrong-Pw-1" not in refused
            await fill(page, "#cf-main", source)
            await click(page, "#cf-test")
            picture = await until(page, "(() => { const i = document.querySelector("
                                  "'#cf-test-picture'); return !i.hidden && i.complete && "
                                  "i.naturalWidth > 0 && [i.naturalWidth, i.alt, "
                                  "document.querySelector('#cf-test-result').textContent]; "
                                  "})()", 30, "the test's picture")
            assert picture[0] == 640 and picture[1].startswith("cam3: ") and \
                picture[2].startswith("h264 "), picture
            assert await text(page, ".field-error[data-for=main]") == ""
            await fill(page, "#cf-retention", "7")
            await click(page, "#camera-form button[type=submit]")
            await until(page, "!!document.querySelector('#camera-list [data-camera=cam3]')",
                        what="cam3 in the list")
            assert await visible(page, "#camera-form") is False
            shown = await text(page, "#camera-list [data-camera=cam3] code")
            assert ":***@" in shown and source.split("@")[0].split(":")[-1] not in shown

            # a refused edit: the message beside the field it names, nothing written
            before = config_file.read_bytes()
            await click(page, "#camera-list [data-camera=cam2] button")
            assert await page.evaluate("document.querySelector('#cf-retention').value") == ""
            # its saved URL shows *** for the password: the test asks for cam2's picture
            assert await page.evaluate("document.querySelector('#cf-test-picture').hidden")
            await click(page, "#cf-test")
            saved = await until(page, "(() => { const i = document.querySelector("
                                "'#cf-test-picture'); return !i.hidden && i.complete && "
                                "i.naturalWidth > 0 && i.alt; })()", 30, "cam2's picture")
            assert saved.startswith("cam2: "), saved
            await fill(page, "#cf-main", "http://192.0.2.7/stream")
            await click(page, "#camera-form button[type=submit]")
            message = await until(page, "document.querySelector("
                                  "'.field-error[data-for=main]').textContent",
                                  what="the refusal beside the main URL")
            assert "cameras[1].main" in message and "rtsp" in message, message
            assert await text(page, ".field-error[data-for=id]") == ""
            assert await page.evaluate(
                "document.querySelector('#cf-main').getAttribute('aria-invalid')") == "true"
            assert config_file.read_bytes() == before
            await click(page, "#camera-cancel")

            closed_segment(box, "cam3")  # recording: a closed segment in /api/segments
            await click(page, "#enabled-cam3")  # switched off from its row
            wait_for(lambda: box.get("/api/status", admin).json()["cameras"]["cam3"]["state"]
                     == "disabled", 60, "cam3 disabled")
        return found

    found = asyncio.run(add())
    unnamed = [c for c in found if not c["name"].strip()]
    assert not unnamed, unnamed
    assert all(c["focusable"] for c in found), [c for c in found if not c["focusable"]]
    roles = {(c["role"], c["name"]) for c in found}
    assert {("textbox", "Camera id"), ("textbox", "Main stream URL (records)"),
            ("combobox", "Live view"), ("checkbox", "Record")} <= roles, roles
    cameras = box.get("/api/config", admin).json()["config"]["cameras"]
    cam3 = next(c for c in cameras if c["id"] == "cam3")
    assert cam3["enabled"] is False and cam3["name"] == "Side gate"
    assert cam3["retention_days"] == 7
    assert json.dumps(cameras).count("***") >= 3  # passwords kept, masked


def test_no_token_or_camera_password_was_logged(box: Box) -> None:  # last: after the pages
    log = box.app.log
    assert "?token=***" in log  # the pages' URL tokens, masked by the access log
    leaked = [t for t in box.tokens if t.split(".")[2] in log]
    assert not leaked
    assert CAMERA_PASSWORD not in log
