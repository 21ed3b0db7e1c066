#!/usr/bin/env python3
"""Print a deb822 sources file for the image, taken from this machine's own apt sources.

The repository names no mirror: whatever this build host uses for Debian (its
/etc/apt/sources.list and sources.list.d, deb822 or one-line style) is what the image
is built from. Only `deb` entries carrying the requested suites are kept.

    apt-sources.py bookworm bookworm-updates bookworm-security --components main
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

APT_DIR = Path("/etc/apt")


def deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas, current, key = [], {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def one_line_entries(text: str) -> list[dict[str, str]]:
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        options = {}
        if words[1].startswith("["):
            opts = []
            while not words[1].endswith("]"):
                opts.append(words.pop(1))
            opts.append(words.pop(1))
            for opt in " ".join(opts).strip("[]").split():
                name, _, value = opt.partition("=")
                options[name.lower()] = value
        entry = {"types": "deb", "uris": words[1], "suites": words[2],
                 "components": " ".join(words[3:])}
        if "signed-by" in options:
            entry["signed-by"] = options["signed-by"]
        entries.append(entry)
    return entries


def host_entries() -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    files = [APT_DIR / "sources.list", *sorted((APT_DIR / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        if path.suffix == ".sources":
            entries += [s for s in deb822_stanzas(path.read_text())
                        if s.get("enabled", "yes").lower() != "no"]
        elif path.suffix == ".list" or path.name == "sources.list":
            entries += one_line_entries(path.read_text())
    return [e for e in entries if "deb" in e.get("types", "").split()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="+")
    parser.add_argument("--components", default="main")
    args = parser.parse_args()
    wanted_components = args.components.split()
    found: set[str] = set()
    out = []
    for entry in host_entries():
        suites = [s for s in entry.get("suites", "").split() if s in args.suites]
        components = [c for c in entry.get("components", "").split() if c in wanted_components]
        if not suites or not components:
            continue
        found.update(suites)
        lines = ["Types: deb", f"URIs: {entry['uris']}", f"Suites: {' '.join(suites)}",
                 f"Components: {' '.join(components)}"]
        if entry.get("signed-by"):
            lines.append(f"Signed-By: {entry['signed-by']}")
        out.append("\n".join(lines))
    missing = [s for s in args.suites if s not in found]
    if args.suites[0] in missing:
        print(f"apt-sources.py: this machine's apt sources carry no {args.suites[0]} "
              f"({' '.join(wanted_components)}): cannot build the image", file=sys.stderr)
        return 1
    if missing:
        print(f"apt-sources.py: note: no apt source for {', '.join(missing)} on this "
              "machine; building without it", file=sys.stderr)
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
