"""Headless Firefox (Debian's firefox-esr) driven over WebDriver BiDi (aiohttp's websocket
client): open a page, evaluate JavaScript in it. `evaluate` answers as the Chromium
driver's `Page.evaluate` does, so a flow that only evaluates runs in either browser.

Firefox reaches for Mozilla's servers on its own (updates, remote settings, experiments,
the OpenH264 download): the profile's prefs send every address but loopback to a proxy on
127.0.0.1:9, where nothing listens, and turn those services off, so a test never leaves the
machine. WebRTC on loopback needs Firefox told to gather loopback candidates and to show
host addresses (not mDNS names)."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from nvr_edge_testing.processes import end, tied

FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
DEAD_END = "127.0.0.1:9"  # the discard port: nothing listens, a connection is refused
PREFS: dict[str, bool | int | str] = {
    # nowhere but loopback
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1", "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": 9,
    "network.proxy.socks_remote_dns": True,
    "network.proxy.no_proxies_on": "127.0.0.1,localhost,[::1]",
    "network.proxy.allow_hijacking_localhost": False,
    "network.dns.disablePrefetch": True, "network.prefetch-next": False,
    "network.connectivity-service.enabled": False,
    "network.captive-portal-service.enabled": False,
    "services.settings.server": f"http://{DEAD_END}/v1",
    "media.gmp-manager.url": f"http://{DEAD_END}/",
    "app.update.auto": False, "app.update.enabled": False, "app.normandy.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "app.shield.optoutstudies.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "extensions.update.enabled": False, "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False, "toolkit.telemetry.enabled": False,
    "browser.ping-centre.telemetry": False, "geo.enabled": False,
    # no first-run pages
    "browser.shell.checkDefaultBrowser": False, "browser.aboutwelcome.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore", "startup.homepage_welcome_url": "",
    "browser.newtabpage.enabled": False, "browser.startup.page": 0,
    # video starts without a click; WebRTC on loopback with real host addresses
    "media.autoplay.default": 0, "media.autoplay.blocking_policy": 0,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
}


class BidiError(RuntimeError):
    """A command the browser refused."""


class FirefoxPage:
    """One browsing context of a Firefox driven over a BiDi session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, context: str,
                 browser_pid: int) -> None:
        self.ws, self.context, self.ids = ws, context, itertools.count(1)
        self.browser_pid = browser_pid
        self.thrown = ""  # what the last JavaScript that threw said

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        sent = next(self.ids)
        await self.ws.send_json({"id": sent, "method": method, "params": params})
        async for message in self.ws:
            reply = json.loads(message.data)
            if reply.get("id") != sent:
                continue  # an event, or the answer to a command given up on
            if reply.get("type") == "error":
                raise BidiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
            return dict(reply["result"])
        raise BidiError("the browser closed the BiDi connection")

    async def evaluate(self, expression: str) -> Any:
        """The expression's value (awaited if a promise), as JSON carries it: what the
        Chromium driver's `returnByValue` gives (undefined: None). JavaScript that throws
        gives None, as there (a wait polls expressions that throw until the page has what
        they read); `thrown` keeps what it said."""
        wrapped = f"(async () => {{ const v = await ({expression});" \
                  " return v === undefined ? undefined : JSON.stringify(v); })()"
        result = await self.call("script.evaluate", expression=wrapped, awaitPromise=True,
                                 target={"context": self.context}, resultOwnership="none")
        if result.get("type") == "exception":
            details = result.get("exceptionDetails") or {}
            self.thrown = str(details.get("text", details))
            return None
        value = result.get("result") or {}
        return json.loads(value["value"]) if value.get("type") == "string" else None

    async def navigate(self, url: str) -> None:
        await self.call("browsingContext.navigate", context=self.context, url=url,
                        wait="complete")


def write_prefs(profile: Path) -> None:
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "user.js").write_text("".join(
        f"user_pref({json.dumps(name)}, {json.dumps(value)});\n"
        for name, value in PREFS.items()))


@contextlib.contextmanager
def firefox(profile: Path) -> Iterator[tuple[str, int]]:
    """A headless Firefox on `profile`: its BiDi websocket URL and its main process id."""
    write_prefs(profile)
    server_file = profile / "WebDriverBiDiServer.json"
    server_file.unlink(missing_ok=True)  # an earlier browser's, in a reused profile
    browser = subprocess.Popen(tied([FIREFOX, "--headless", "--no-remote", "--profile",
                                     str(profile), "--remote-debugging-port", "0",
                                     "about:blank"]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield _bidi_address(server_file, browser), browser.pid
    finally:
        end(browser, 10)


def _bidi_address(server_file: Path, browser: subprocess.Popen[bytes]) -> str:
    """The address Firefox writes into its profile once its BiDi server listens."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and browser.poll() is None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            server = json.loads(server_file.read_text())
            return f"ws://{server['ws_host']}:{server['ws_port']}/session"
        time.sleep(0.1)
    raise RuntimeError(f"firefox gave no BiDi address in 30 s (exit {browser.poll()})")


@contextlib.asynccontextmanager
async def firefox_page(url: str, profile: Path, init_script: str = "",
                       ) -> AsyncIterator[FirefoxPage]:
    """Firefox showing `url`, in a browser of its own; `init_script` runs in every
    document before the page's own scripts."""
    with firefox(profile) as (address, pid):
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(address, max_msg_size=0) as ws:
            page = FirefoxPage(ws, "", pid)
            await page.call("session.new", capabilities={})
            tree = await page.call("browsingContext.getTree")
            page.context = tree["contexts"][0]["context"]
            if init_script:
                await page.call("script.addPreloadScript",
                                functionDeclaration=f"() => {{ {init_script}; }}")
            await page.navigate(url)
            yield page
