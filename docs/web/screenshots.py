"""The web page's screenshots in docs/web/: each page (live, playback, system, cameras) at
desktop (1366x768), phone (390x844) and wall (1920x1080) sizes, taken by headless Chromium
from the real appliance recording four simulated cameras. Run by `ci/web-screenshots`.

The PNGs are reduced to a small palette (ffmpeg) so that the twelve stay a few hundred KiB."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from nvr_edge_testing.appliance import Appliance
from nvr_edge_testing.chromium.cdp import Page, chromium, open_page
from nvr_edge_testing.configs import appliance_document, merge_tables, write_toml
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.cli import default_cache_dir
from nvr_edge_testing.simcam.clip import ensure_clip
from nvr_edge_testing.waiting import free_port
from nvr_edge_web.auth import authenticator_for
from nvr_edge_web.plugin import WebPlugin

from nvr_edge.config import load_config

SIZES = {"desktop": (1366, 768), "phone": (390, 844), "wall": (1920, 1080)}
LAYOUT = {"desktop": "auto", "phone": "auto", "wall": "4"}  # the wall: a 2x2 page
CAMERAS = 4
NAMES = ["Front door", "Driveway", "Yard", "Garage"]
PALETTE = "split[a][b];[a]palettegen=max_colors=20[p];[b][p]paletteuse=dither=none"
# What each page shows once it is drawn (a JavaScript expression that becomes true).
READY = {
    "live": "[...document.querySelectorAll('#grid .tile')].filter((t) => !t.hidden)"
            ".every((t) => / ms$/.test(t.querySelector('.quality').textContent))",
    "playback": "(document.querySelector('#lanes video') || {}).currentTime > 1.5",
    "system": "document.querySelectorAll('#system-tiers .tier').length > 0",
    "cameras": f"document.querySelectorAll('#camera-list .camera-row').length === {CAMERAS}",
}


@contextlib.contextmanager
def appliance(folder: Path) -> Iterator[tuple[str, str]]:
    """The appliance with [web] and WebRTC on loopback, recording simulated cameras: the
    page's base URL and an admin token."""
    cache = default_cache_dir()
    clip = ensure_clip(cache, width=640, height=360, bitrate_kbps=800, seconds=4)
    port = free_port()
    with SimCameraServer(cache, cameras=CAMERAS, main=clip, sub=clip, user="admin",
                         password=secrets.token_urlsafe(12),  # shown masked: ***
                         log_path=folder / "cameras.log") as cameras:
        document = appliance_document(
            {f"cam{n}": cameras.url(n) for n in range(1, CAMERAS + 1)}, segment_seconds=10)
        for camera, name in zip(document["cameras"], NAMES, strict=True):
            camera["name"] = name  # as an installer names them
        path = write_toml(folder / "nvr.toml", merge_tables(document, {
            "web": {"listen": f"127.0.0.1:{port}"},
            "webrtc": {"host_addresses": ["127.0.0.1"]}}))
        config = load_config(path, readers=WebPlugin().nvr_config_sections())
        token = authenticator_for(config).issue("screenshots", ["view", "playback", "admin"],
                                                "*", 3600)
        with Appliance(path, folder / "app.log", plugins=True):
            base = f"http://127.0.0.1:{port}"
            wait(lambda: recorded(base, token) >= 1, 90, "a closed segment of cam1")
            yield base, token


def recorded(base: str, token: str) -> int:
    request = urllib.request.Request(f"{base}/api/segments?camera=cam1",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return len(json.load(reply)["segments"])
    except OSError:
        return 0


def wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise SystemExit(f"screenshots: no {what} after {timeout} s")


async def until(page: Page, expression: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await page.evaluate(expression):
            return True
        await asyncio.sleep(0.25)
    print(f"screenshots: still not {expression!r}: taken as it is", file=sys.stderr)
    return False


async def shoot(browser: tuple[int, int], base: str, token: str, size: str,
                out: Path) -> list[Path]:
    width, height = SIZES[size]
    made = []
    async with open_page(browser, f"{base}/?token={token}#live") as page:
        await page.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=size == "phone")
        await until(page, "document.querySelectorAll('#grid .tile').length > 0")
        await page.evaluate(f"""(() => {{ const s = document.querySelector('#layout');
          s.value = '{LAYOUT[size]}'; s.dispatchEvent(new Event('change')); }})()""")
        for view in ("live", "playback", "system", "cameras"):
            await page.evaluate(f"location.hash = '{'live' if view == 'playback' else view}'")
            if view == "playback":  # the last minute of the first camera, from its timeline
                await page.evaluate("""(() => { const t = document.querySelector(
                  '#grid .tile .timeline'); t.dispatchEvent(new KeyboardEvent('keydown',
                  {key: 'Enter', bubbles: true})); })()""")
                await until(page, "!!document.querySelector('#lanes .lane')")
                await page.evaluate("document.querySelector(\".pb-zoom[data-zoom='10 min']\")"
                                    ".click()")
                await page.evaluate("document.querySelector('#player').scrollIntoView()")
            await until(page, READY[view])
            if view == "cameras":  # the form, on the first camera
                await page.evaluate("document.querySelector('#camera-list .camera-row "
                                    "button[aria-label^=Edit]').click()")
                await until(page, "!document.querySelector('#camera-form').hidden")
            await asyncio.sleep(0.5)  # the next repaint
            shot = await page.call("Page.captureScreenshot", format="png")
            made.append(small_png(base64.b64decode(shot["data"]), out / f"{view}-{size}.png"))
            if view == "playback":
                await page.evaluate("document.querySelector('#player-close').click()")
                await page.evaluate("scrollTo(0, 0)")
    return made


def small_png(data: bytes, path: Path) -> Path:
    """The screenshot with a palette of a few colours: a UI and a test picture need no more."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "png_pipe", "-i", "-", "-vf", PALETTE,
                    str(path)], input=data, check=True, timeout=60)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent,
                        help="where the PNGs go (default: docs/web)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nvr-screens-") as folder, \
            appliance(Path(folder)) as (base, token), \
            chromium(Path(folder) / "chromium") as browser:
        made = []
        for size in SIZES:
            made += asyncio.run(shoot(browser, base, token, size, args.out))
    total = sum(p.stat().st_size for p in made)
    for path in made:
        print(f"{path} {path.stat().st_size // 1024} KiB")
    print(f"{len(made)} screenshots, {total // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
