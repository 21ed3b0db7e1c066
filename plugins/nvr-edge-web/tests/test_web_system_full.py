"""The system page when the cache fills: the appliance in this process with its cache on a
small tmpfs (root only) that the test fills; Chromium shows the full tier, the camera's
paused state with its reason, and the alert."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.chromium.cdp import CHROMIUM, chromium_page
from nvr_edge_testing.waiting import free_port
from nvr_edge_web.auth import authenticator_for
from web_page import until

from tests.helpers import fill, mount_tmpfs

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
WEB_PORT = free_port()
CACHE_ROW = "document.querySelector('.tier[data-tier=cache]')"


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "cache"  # where appliance_document puts the cache
    mount_tmpfs(folder, "48m")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any], cache: Path) -> dict[str, Any]:
    return {**nvr_config, "web": {"listen": f"127.0.0.1:{WEB_PORT}"}}


def test_the_system_page_shows_a_full_cache(nvr_appliance: RunningAppliance, cache: Path,
                                            tmp_path: Path) -> None:
    admin = authenticator_for(nvr_appliance.config).issue("tester", ["admin"], "*", 600)
    url = f"http://127.0.0.1:{WEB_PORT}/?token={admin}#system"

    async def watch() -> dict[str, Any]:
        async with chromium_page(url, tmp_path / "p") as page:
            await until(page, f"{CACHE_ROW}?.querySelector('[role=meter]')"
                        ".getAttribute('aria-valuenow') !== null", 30, "the cache's bar")
            await until(page, "document.querySelector('#system-cameras tr[data-camera=cam1]"
                        " .state')?.textContent === 'online'", 30, "cam1 online")
            before = await page.evaluate(f"Number({CACHE_ROW}.querySelector('[role=meter]')"
                                         ".getAttribute('aria-valuenow'))")
            fill(cache / "ballast")
            full = await until(page, f"Number({CACHE_ROW}.querySelector('[role=meter]')"
                               ".getAttribute('aria-valuenow')) >= 99 && "
                               f"{CACHE_ROW}.querySelector('.tier-free').textContent", 15,
                               "the cache shown full")
            reason = await until(page, "(() => { const r = document.querySelector("
                                 "'#system-cameras tr[data-camera=cam1]');"
                                 " return r.querySelector('.state').textContent !== 'online'"
                                 " && r.querySelector('.reason').textContent; })()", 60,
                                 "cam1 paused with its reason")
            alerts = await until(page, "[...document.querySelectorAll('#system-alerts li')]"
                                 ".map((li) => li.textContent).filter((t) =>"
                                 " t.includes('space')).join('\\n')", 15, "a space alert")
            return {"before": before, "full": full, "reason": reason, "alerts": alerts}

    seen = asyncio.run(watch())
    assert seen["before"] < 99
    assert "free of 48.0 MiB" in seen["full"], seen
    assert "no space on the cache" in seen["reason"], seen
    assert "recording_paused_no_space" in seen["alerts"], seen
