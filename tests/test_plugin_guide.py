"""docs/PLUGINS.md "Your first plugin" shows the files of examples/hello-plugin exactly, so
that a newcomer who copies the guide gets the plugin that CI tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hello-plugin"
# A file is shown as **`path`**, a blank line, then a fenced block with its whole text.
SHOWN = re.compile(r"^\*\*`([^`]+)`\*\*\n\n```\w*\n(.*?)^```$", re.M | re.S)


def shown_files(text: str) -> dict[str, str]:
    return {path: body for path, body in SHOWN.findall(text)}


def test_the_guide_shows_the_example_files_as_they_are() -> None:
    shown = shown_files((ROOT / "docs" / "PLUGINS.md").read_text())
    assert {"pyproject.toml", "nvr_hello/plugin.py", "tests/test_hello.py"} <= set(shown)
    for path, body in shown.items():
        assert body == (EXAMPLE / path).read_text(), f"PLUGINS.md shows another {path}"


def test_the_check_sees_a_difference() -> None:
    shown = shown_files("**`a.py`**\n\n```python\nx = 1\n```\n")
    assert shown == {"a.py": "x = 1\n"}
