"""The board's preferred encoder, from its definition (hw/<board>.toml, installed as
/etc/nvr-edge/hw.toml by the image build): `[encoder] prefer = "<encoder name>"`."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

log = logging.getLogger(__name__)
HW_FILE = Path("/etc/nvr-edge/hw.toml")


def board_preference(path: Path) -> str | None:
    """The encoder name the board prefers, or None (no file, no key, or "")."""
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        log.warning("board definition %s unreadable (%s); no preferred encoder", path, exc)
        return None
    encoder = document.get("encoder")
    prefer = encoder.get("prefer") if isinstance(encoder, dict) else None
    return prefer if isinstance(prefer, str) and prefer else None
