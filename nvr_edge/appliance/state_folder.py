"""A state folder that cannot be written must not stop the recording.

The state folder holds the instance lock, the status file, the catalog spool and the
writer locks. When it is read-only (a file system remounted read-only after an error, a
wrong mount) the appliance moves them to the runtime folder (`$RUNTIME_DIRECTORY`, set by
systemd's RuntimeDirectory=, else /run/nvr-edge): volatile, but recording goes on, rows
spool there, and the next start with a writable state folder indexes every file again.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from nvr_edge.config import Config

DEFAULT_RUNTIME_DIR = Path("/run/nvr-edge")


class StateFolderError(RuntimeError):
    pass


def runtime_dir() -> Path:
    return Path(os.environ.get("RUNTIME_DIRECTORY") or DEFAULT_RUNTIME_DIR)


def unwritable_reason(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (None: they can), found by trying."""
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def usable_state(config: Config) -> tuple[Config, str | None]:
    """`config` with a state folder that can be written, and what was wrong (None: nothing)."""
    state = config.storage.state_dir
    reason = unwritable_reason(state)
    if reason is None:
        return config, None
    fallback = runtime_dir() / "state"
    fallback_reason = unwritable_reason(fallback)
    if fallback_reason is not None:
        raise StateFolderError(f"state folder {state} cannot be written ({reason}), nor "
                               f"the fallback {fallback} ({fallback_reason})")
    storage = dataclasses.replace(config.storage, state_dir=fallback)
    problem = (f"state folder {state} cannot be written ({reason}); using {fallback} until "
               "a restart finds it writable (catalog rows spool there, volatile)")
    return dataclasses.replace(config, storage=storage), problem
