"""The browser side of the benchmark: the live page in headless Chromium with the latency
probe (probe.js) injected before the page's own scripts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path
from typing import Any

from nvr_edge_testing.chromium.cdp import Page, chromium_page

PROBE_JS = files("nvr_edge_testing.bench.live").joinpath("probe.js").read_text()


class ProbeError(RuntimeError):
    """The page showed no readable frame in time."""


@contextlib.asynccontextmanager
async def probed_page(url: str, profile: Path) -> AsyncIterator[Page]:
    async with chromium_page(url, profile, init_script=PROBE_JS) as page:
        yield page


async def status(page: Page) -> dict[str, Any]:
    return dict(await page.evaluate("window.__latencyProbe ? window.__latencyProbe.status()"
                                    " : {}") or {})


async def take(page: Page) -> dict[str, Any]:
    """The samples since the last take, and the probe's counters; empties them."""
    return dict(await page.evaluate("window.__latencyProbe.take()"))


async def first_frame_ms(page: Page, timeout_s: float) -> dict[str, float]:
    """Wait for the page's first shown frame: ms from the live request (WHEP POST or
    first playlist) and from the navigation to it."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        seen = await status(page)
        if seen.get("firstFrameAt") is not None and seen.get("samples"):
            first = float(seen["firstFrameAt"])
            request = seen.get("liveRequestAt")
            return {"from_live_request_ms": round(first - float(request), 1)
                    if request is not None else -1.0,
                    "from_navigation_ms": round(first, 1)}
        await asyncio.sleep(0.05)
    raise ProbeError(f"no readable frame on the page within {timeout_s:.0f} s "
                     f"(probe: {await status(page)})")


async def reload(page: Page) -> None:
    await forget_probe(page)
    await page.call("Page.reload", ignoreCache=True)


async def navigate(page: Page, url: str) -> None:
    await forget_probe(page)
    await page.call("Page.navigate", url=url)


async def forget_probe(page: Page) -> None:
    """Until the next document loads, status() must not answer from the old one."""
    await page.evaluate("window.__latencyProbe = undefined")
