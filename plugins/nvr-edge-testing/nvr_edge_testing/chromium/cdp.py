"""Headless Chromium driven over the Chrome DevTools Protocol (aiohttp's websocket client):
open a page, evaluate JavaScript in it. No browser-automation dependency."""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from nvr_edge_testing.processes import end, tied

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0",
         # WebRTC on loopback: Chromium skips loopback interfaces and hides host addresses
         # behind mDNS names unless told otherwise; the video starts muted without a click.
         "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns",
         "--autoplay-policy=no-user-gesture-required"]


class Page:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, browser_pid: int) -> None:
        self.ws, self.ids = ws, itertools.count(1)
        self.browser_pid = browser_pid  # the browser's main process (its CPU, its children)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        sent = next(self.ids)
        await self.ws.send_json({"id": sent, "method": method, "params": params})
        async for message in self.ws:
            reply = json.loads(message.data)
            if reply.get("id") == sent:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply["result"])
        raise RuntimeError("the browser closed the DevTools connection")

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True)
        return result["result"].get("value")


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[tuple[int, int]]:
    """A headless Chromium on `profile`: its DevTools port and its main process id. Tests
    that open many pages share one (`open_page` for each)."""
    port_file = profile / "DevToolsActivePort"
    port_file.unlink(missing_ok=True)  # an earlier browser's, in a reused profile
    browser = subprocess.Popen(tied([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                                     "about:blank"]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        yield int(port_file.read_text().split()[0]), browser.pid
    finally:
        end(browser, 10)


@contextlib.asynccontextmanager
async def open_page(browser: tuple[int, int], url: str, init_script: str = "",
                    ) -> AsyncIterator[Page]:
    """A new tab of the running `browser` (from `chromium`) showing `url`, closed after;
    `init_script` runs in every document before the page's own scripts (a probe that must
    see the page from its start)."""
    port, pid = browser
    async with aiohttp.ClientSession() as http:
        async with http.put(f"http://127.0.0.1:{port}/json/new") as reply:
            target = await reply.json()
        try:
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws, pid)
                if init_script:
                    await page.call("Page.enable")  # without it the script is not kept
                    await page.call("Page.addScriptToEvaluateOnNewDocument", source=init_script)
                await page.call("Page.navigate", url=url)  # a /json/new URL loses its #...
                yield page
        finally:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/json/close/{target['id']}"):
                    pass


@contextlib.asynccontextmanager
async def chromium_page(url: str, profile: Path, init_script: str = "",
                        ) -> AsyncIterator[Page]:
    """Chromium showing `url`, in a browser of its own; `init_script` as `open_page`."""
    with chromium(profile) as browser:
        async with open_page(browser, url, init_script) as page:
            yield page
