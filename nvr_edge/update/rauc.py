"""RAUC, the updater in the image, as the appliance uses it: the `rauc` command line.

`rauc info` checks a bundle's signature against the keyring here, in our own child
process; `rauc install` and `rauc status` ask the RAUC service (root, D-Bus; the image's
D-Bus policy lets user nvr-edge call it), which checks signature and compatible string
again before it writes the other slot and switches the boot order."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nvr_edge.logs import redact

INFO_TIMEOUT_S = 300.0  # a signature check reads the bundle's end only; TCG is slow
STATUS_TIMEOUT_S = 120.0
_PROGRESS = re.compile(r"^\s*(\d{1,3})% (.*)$")
NICE = ("nice", "-n", "10")


class RaucError(Exception):
    """RAUC refused or failed; the message is RAUC's own reason."""


@dataclass(frozen=True)
class SystemConfig:
    compatible: str
    keyring: Path


def read_system_conf(path: Path) -> SystemConfig:
    """The box's compatible string and keyring from RAUC's system.conf."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text())
    except (OSError, configparser.Error) as exc:
        raise RaucError(f"cannot read {path}: {exc}") from None
    compatible = parser.get("system", "compatible", fallback="")
    keyring = parser.get("keyring", "path", fallback="")
    if not compatible or not keyring:
        raise RaucError(f"{path} names no compatible string or keyring")
    return SystemConfig(compatible, Path(keyring))


@dataclass(frozen=True)
class BundleInfo:
    compatible: str
    version: str


def bundle_info(rauc: str, bundle: Path, keyring: Path) -> BundleInfo:
    """`rauc info`: the bundle's manifest, after its signature was checked against
    `keyring`; RaucError with RAUC's words when the signature does not verify."""
    done = _run([rauc, "info", f"--keyring={keyring}", "--output-format=json", str(bundle)],
                INFO_TIMEOUT_S)
    try:
        manifest = json.loads(done.stdout)
        return BundleInfo(str(manifest["compatible"]), str(manifest["version"]))
    except (ValueError, KeyError, TypeError):
        raise RaucError(f"rauc info printed no manifest: {done.stdout[:200]!r}") from None


def slot_version(rauc: str, slot: str) -> str | None:
    """The version of the bundle RAUC installed into boot slot `slot` (None: that slot was
    flashed, not installed, or RAUC does not say)."""
    done = _run([rauc, "status", "--detailed", "--output-format=json"], STATUS_TIMEOUT_S)
    try:
        status = json.loads(done.stdout)
        for entry in status["slots"]:
            for info in entry.values():
                if info.get("bootname") == slot and info.get("class") == "rootfs":
                    return info.get("slot_status", {}).get("bundle", {}).get("version")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


def install(rauc: str, bundle: Path, progress: Callable[[int, str], None]) -> None:
    """`rauc install`, with `progress(percent, what)` for each step RAUC reports;
    RaucError with RAUC's last error when it refuses or fails."""
    child = subprocess.Popen([*NICE, rauc, "install", str(bundle)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, errors="replace")
    last_error, tail = "", []
    assert child.stdout is not None
    for line in child.stdout:
        line = line.rstrip()
        if not line or "rauc-Message:" in line:
            continue
        tail = [*tail[-4:], line]
        if match := _PROGRESS.match(line):
            progress(min(100, int(match.group(1))), match.group(2))
        elif line.startswith("LastError: "):
            last_error = line[len("LastError: "):]
    if child.wait() != 0:
        raise RaucError(redact(last_error or " / ".join(tail) or f"rauc exited {child.returncode}"))


def _reason(stderr: str) -> str:
    """RAUC's error, without its progress chatter (`rauc-Message: ...` lines)."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and "rauc-Message:" not in line]
    return " ".join(lines)[-400:]


def _run(argv: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run([*NICE, *argv], capture_output=True, text=True,
                              errors="replace", timeout=timeout_s)
    except FileNotFoundError:
        raise RaucError(f"{argv[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise RaucError(f"rauc {argv[1]} did not answer within {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise RaucError(redact(_reason(done.stderr) or f"exit status {done.returncode}"))
    return done
