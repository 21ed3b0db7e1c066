"""Driving the page in headless Chromium (or Firefox) for the page tests: wait for what it
shows, fill and click as a user would (DOM events), and read its accessibility tree
(Chromium)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from nvr_edge_testing.chromium.cdp import Page
from nvr_edge_testing.firefox import FirefoxPage

AnyPage = Page | FirefoxPage  # the calls below only evaluate JavaScript

# Roles of the controls a user types into, picks or presses.
CONTROL_ROLES = {"textbox", "combobox", "checkbox", "button", "link"}


def _find(selector: str) -> str:
    return f"document.querySelector({json.dumps(selector)})"


async def until(page: AnyPage, expression: str, timeout: float = 20, what: str = "") -> Any:
    """The expression's value once it is truthy; AssertionError with the last value after
    `timeout` seconds."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = await page.evaluate(expression)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what or expression}: still {value!r} after {timeout} s")


async def fill(page: AnyPage, selector: str, value: str) -> None:
    """Types `value` into the field (an input event, as typing makes)."""
    done = await page.evaluate(f"""(() => {{ const e = {_find(selector)};
      if (!e) return false; e.value = {json.dumps(value)};
      e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()""")
    assert done, f"no {selector} on the page"


async def click(page: AnyPage, selector: str) -> None:
    done = await page.evaluate(f"""(() => {{ const e = {_find(selector)};
      if (!e) return false; e.click(); return true; }})()""")
    assert done, f"no {selector} on the page"


async def text(page: AnyPage, selector: str) -> str:
    return str(await page.evaluate(
        f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''"))


async def visible(page: AnyPage, selector: str) -> bool:
    """Shown: in the document and rendered (neither it nor an ancestor hidden)."""
    return bool(await page.evaluate(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
        " return !!e && e.getClientRects().length > 0; })()"))


async def controls(page: Page, roles: set[str] = CONTROL_ROLES,
                   focusable: bool = False) -> list[dict[str, Any]]:
    """Every control the accessibility tree shows now (a node of one of `roles`, or with
    `focusable` any node the keyboard can reach): role, name, focusable, disabled."""
    tree = await page.call("Accessibility.getFullAXTree")
    found = []
    for node in tree["nodes"]:
        role = (node.get("role") or {}).get("value")
        properties = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
        if node.get("ignored") or role in ("RootWebArea", "WebArea") or not (
                role in roles or (focusable and properties.get("focusable"))):
            continue
        found.append({"role": role, "name": (node.get("name") or {}).get("value", ""),
                      "focusable": bool(properties.get("focusable")),
                      "disabled": bool(properties.get("disabled"))})
    return found


KEYS = {"Tab": 9, "Enter": 13, "Escape": 27, "ArrowRight": 39}


async def press(page: Page, key: str) -> None:
    """A key pressed and released, as a keyboard user does (Enter carries its character:
    that is what activates a button)."""
    text = {"Enter": "\r"}.get(key, "")
    await page.call("Input.dispatchKeyEvent", type="keyDown", key=key, code=key,
                    windowsVirtualKeyCode=KEYS[key], text=text)
    await page.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=key,
                    windowsVirtualKeyCode=KEYS[key])


async def tab_to(page: Page, selector: str, most: int = 40) -> list[str]:
    """Presses Tab until `selector` has the focus; the ids (or names) focused on the way."""
    passed: list[str] = []
    for _ in range(most):
        await press(page, "Tab")
        focused = await page.evaluate(
            "(() => { const e = document.activeElement; return [e.id || e.name || e.tagName,"
            f" e.matches({json.dumps(selector)})]; }})()")
        passed.append(focused[0])
        if focused[1]:
            return passed
    raise AssertionError(f"Tab never reached {selector}: {passed}")
