"""The config file as a document that can be shown, patched and rewritten at run time.

Shown without secrets (URL passwords, `password`/`secret`/`token` keys); a changed document
that still carries those masks gets the real values back from the running one, so a fleet
tool can fetch, edit and send back a config without ever seeing a password.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from nvr_edge.logs import redact

MASK = "***"
_SECRET_KEY = re.compile(r"(password|passwd|secret|token)$", re.I)


def public_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `document` with every secret masked."""
    return _mask(document)


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, Mapping):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str):
        return MASK if value and _SECRET_KEY.search(key) else redact(value)
    return value


def restore_secrets(new: Any, old: Any, key: str = "") -> Any:
    """`new` with each masked value that matches `old`'s masked value replaced by `old`'s.

    Tables are matched by key, arrays of tables by their `id` (cameras may be reordered),
    other arrays by position."""
    if isinstance(new, Mapping):
        old_map = old if isinstance(old, Mapping) else {}
        return {k: restore_secrets(v, old_map.get(k), k) for k, v in new.items()}
    if isinstance(new, list):
        old_list = old if isinstance(old, list) else []
        by_id = {o.get("id"): o for o in old_list if isinstance(o, Mapping) and "id" in o}
        restored = []
        for index, item in enumerate(new):
            if isinstance(item, Mapping) and "id" in item:
                match = by_id.get(item["id"])
            else:
                match = old_list[index] if index < len(old_list) else None
            restored.append(restore_secrets(item, match))
        return restored
    if isinstance(new, str) and isinstance(old, str) and MASK in new \
            and _mask(old, key) == new:
        return old
    return new


def unresolved_masks(document: Any, path: str = "") -> list[str]:
    """Key paths still holding a mask after `restore_secrets` (e.g. a camera added back
    with the password as get_config showed it): writing those would save `***`."""
    if isinstance(document, Mapping):
        return [hit for k, v in document.items()
                for hit in unresolved_masks(v, f"{path}.{k}" if path else str(k))]
    if isinstance(document, list):
        return [hit for i, v in enumerate(document) for hit in unresolved_masks(v, f"{path}[{i}]")]
    if isinstance(document, str) and MASK in document and _mask(document, path) == document \
            and (document == MASK or f":{MASK}@" in document):
        return [path]
    return []


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: tables merge, null deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def to_toml(document: Mapping[str, Any]) -> str:
    """TOML text for a document (raises TypeError/ValueError for what TOML cannot hold)."""
    return tomli_w.dumps(dict(document))


def write_document(path: Path, document: Mapping[str, Any]) -> None:
    """Replace the config file atomically: a crash leaves the old file or the new one.

    Comments in the old file are not kept (the previous file is kept as `<name>.prev`)."""
    text = to_toml(document)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o640
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(mode)
        if path.exists():
            previous = path.with_name(path.name + ".prev")
            previous.unlink(missing_ok=True)
            os.link(path, previous)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
