#!/usr/bin/env python3
"""Print the build manifest (JSON): what went into the image and how long each stage took.

Debian packages with versions (from the rootfs's dpkg database), every wheel installed
with its version and sha256, the image files with sizes and sha256, the checkout's commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def debian_packages(target: Path) -> dict[str, str]:
    out = subprocess.run(
        ["dpkg-query", f"--admindir={target}/var/lib/dpkg", "-W",
         "-f", "${db:Status-Abbrev}\t${Package}:${Architecture}\t${Version}\n"],
        check=True, capture_output=True, text=True).stdout
    packages = {}
    for line in out.splitlines():
        status, name, version = line.split("\t")
        if status.startswith("ii"):
            packages[name] = version
    return dict(sorted(packages.items()))


def wheels(folder: Path) -> list[dict[str, str]]:
    found = []
    for origin in ("pypi", "local"):
        for whl in sorted((folder / origin).glob("*.whl")):
            name, version = whl.name.split("-")[:2]
            found.append({"name": name, "version": version, "file": whl.name,
                          "sha256": sha256(whl), "origin": origin})
    return found


def installed(target: Path) -> list[str]:
    """The distributions really installed in the image (a wheel fetched may go unused)."""
    site = next((target / "opt/nvr-edge/lib").glob("python3*/site-packages"))
    return sorted(p.name.removesuffix(".dist-info") for p in site.glob("*.dist-info"))


def git(src: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(src), *args], capture_output=True, text=True,
                          check=False).stdout.strip()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("board", "target", "wheels", "images", "times", "inputs", "src"):
        p.add_argument(f"--{name}", required=True)
    args = p.parse_args()
    target, images = Path(args.target), Path(args.images)
    times = {}
    for line in Path(args.times).read_text().splitlines():
        stage, seconds = line.split("\t")
        times[stage] = int(seconds)
    files = {f.name: {"bytes": f.stat().st_size, "allocated_bytes": f.stat().st_blocks * 512,
                      "sha256": sha256(f)}
             for f in sorted(images.iterdir()) if f.is_file() and f.name != "manifest.json"}
    manifest = {
        "board": args.board,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": git(Path(args.src), "rev-parse", "HEAD"),
        "dirty": bool(git(Path(args.src), "status", "--porcelain", "--untracked-files=no")),
        "inputs": args.inputs,
        "kernel": (images / "kernel-version").read_text().strip(),
        "stage_seconds": times,
        "files": files,
        "python_distributions": installed(target),
        "wheels": wheels(Path(args.wheels)),
        "debian_packages": debian_packages(target),
    }
    json.dump(manifest, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
