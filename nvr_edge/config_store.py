"""The config file as a document that can be shown, patched and rewritten at run time.

Shown without secrets: each value is masked as its key is declared (nvr_edge.config_secrets)
or, undeclared, by its name and shape. A changed document that still carries those masks
gets the real values back from the running one, so a fleet tool can fetch, edit and send
back a config without ever seeing a password; but a saved secret never follows a change
of what owns it (another host, user or scheme) unless the change gives it again.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import tomli_w

from nvr_edge.config import MAX_DEPTH, ConfigError, nesting_depth
from nvr_edge.config_secrets import (
    MASK,
    declared_secrets,
    hidden_parts,
    holds_mask,
    mask_value,
    owner,
    secret_kind,
)

__all__ = ["MASK", "check_depth", "merge_patch", "public_document", "restore_secrets",
           "to_toml", "unresolved_masks", "write_document"]


def check_depth(document: Any) -> None:
    """ConfigError for a document nested deeper than MAX_DEPTH: the functions here walk
    documents recursively, so a deeper one from a transport is refused before they start."""
    if nesting_depth(document) > MAX_DEPTH:
        raise ConfigError("<config>", "", f"nested too deeply (at most {MAX_DEPTH} levels)")


def _child(table: str, key: str) -> str:
    """The path of table `key` inside `table` (declarations are made by these paths)."""
    return f"{table}.{key}" if table else key


def public_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `document` with every secret masked."""
    return _mask(document, "")


MIN_KNOWN_SECRET = 4  # shorter pieces would mask common text everywhere in the log


def secret_texts(document: Mapping[str, Any]) -> set[str]:
    """Every secret text of `document` (URL passwords as written and decoded, stream keys,
    secret values): logs mask these wherever they appear, however a library quotes them."""
    found: set[str] = set()
    _hidden(document, public_document(document), found)
    decoded = {unquote(text) for text in found}
    return {text for text in found | decoded if len(text) >= MIN_KNOWN_SECRET}


def _hidden(original: Any, masked: Any, found: set[str]) -> None:
    if isinstance(original, Mapping):
        for key, value in original.items():
            _hidden(value, masked[key], found)
    elif isinstance(original, list):
        for value, shown in zip(original, masked, strict=True):
            _hidden(value, shown, found)
    elif isinstance(original, str) and original != masked:
        found.update(hidden_parts(original, masked))


def _mask(table: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {k: _mask_value(v, path, str(k)) for k, v in table.items()}


def _mask_value(value: Any, table: str, key: str) -> Any:
    if isinstance(value, Mapping):
        return _mask(value, _child(table, key))
    if isinstance(value, list):
        return [_mask(v, _child(table, key) + "[]") if isinstance(v, Mapping)
                else _mask_value(v, table, key) for v in value]
    if isinstance(value, str):
        return mask_value(secret_kind(table, key, value), value)
    return value


def restore_secrets(new: Any, old: Any) -> Any:
    """`new` with each masked value that matches `old`'s masked value replaced by `old`'s.

    Tables are matched by key, arrays of tables by their `id` (cameras may be reordered),
    other arrays by position. A bound secret (declared `bound_to`) whose owner differs
    between `new` and `old` is not restored: the mask stays and the change is refused."""
    check_depth(new)
    return _restore(new, old, "", "")


def _restore(new: Any, old: Any, table: str, key: str) -> Any:
    if isinstance(new, Mapping):
        path = _child(table, key) if key else table
        old_map = old if isinstance(old, Mapping) else {}
        moved = _moved_secrets(new, old_map, path)
        return {k: v if k in moved else _restore(v, old_map.get(k), path, str(k))
                for k, v in new.items()}
    if isinstance(new, list):
        old_list = old if isinstance(old, list) else []
        by_id = {o.get("id"): o for o in old_list if isinstance(o, Mapping) and "id" in o}
        restored = []
        for index, item in enumerate(new):
            if isinstance(item, Mapping) and "id" in item:
                match = by_id.get(item["id"])
            else:
                match = old_list[index] if index < len(old_list) else None
            if isinstance(item, Mapping):
                restored.append(_restore(item, match, _child(table, key) + "[]", ""))
            else:
                restored.append(_restore(item, match, table, key))
        return restored
    if isinstance(new, str) and isinstance(old, str) and MASK in new \
            and mask_value(secret_kind(table, key, old), old) == new:
        return old
    return new


def _moved_secrets(new: Mapping[str, Any], old: Mapping[str, Any], path: str) -> set[str]:
    """The bound secrets of table `path` whose owner (a URL's host ...) `new` changed."""
    return {name for name, secret in declared_secrets(path).items()
            if any(owner(new.get(o)) != owner(old.get(o)) for o in secret.bound_to)}


def unresolved_masks(document: Any) -> list[str]:
    """Key paths still holding a mask after `restore_secrets` (e.g. a camera added back
    with the password as get_config showed it): writing those would save `***`."""
    check_depth(document)
    return _unresolved(document, "", "", "")


def _unresolved(value: Any, where: str, table: str, key: str) -> list[str]:
    """`where`: the key path reported (`cameras[0].main`); `table`, `key`: the
    declaration's (`cameras[]`, `main`)."""
    if isinstance(value, Mapping):
        inner = _child(table, key) if key else table
        return [hit for k, v in value.items()
                for hit in _unresolved(v, f"{where}.{k}" if where else str(k), inner, str(k))]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value)
                for hit in _unresolved(v, f"{where}[{i}]", *(
                    (_child(table, key) + "[]", "") if isinstance(v, Mapping) else (table, key)))]
    if isinstance(value, str) and holds_mask(secret_kind(table, key, value), value):
        return [where]
    return []


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: tables merge, null deletes, anything else replaces.

    One exception keeps secrets with their owner: a patch that changes what owns a bound
    secret (`mqtt.url` alone) drops the saved secret unless the patch gives it again."""
    check_depth(patch)
    return _merge(target, patch, "")


def _merge(target: Any, patch: Any, table: str) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    before = target if isinstance(target, Mapping) else {}
    result = dict(before)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value, _child(table, str(key)))
    for name in _moved_secrets(result, before, table) - set(patch):
        result.pop(name, None)
    return result


def to_toml(document: Mapping[str, Any]) -> str:
    """TOML text for a document (raises TypeError/ValueError for what TOML cannot hold)."""
    return tomli_w.dumps(dict(document))


def keep_previous(path: Path, previous: Path) -> None:
    """`previous` becomes the file at `path` as it is: a hard link (no copy), else a copy. A
    file another user owns (a config an installer seeded as root on the box's data
    partition) cannot be linked by the service's user (fs.protected_hardlinks): EPERM."""
    previous.unlink(missing_ok=True)
    try:
        os.link(path, previous)
    except PermissionError:
        shutil.copyfile(path, previous)


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
            keep_previous(path, path.with_name(path.name + ".prev"))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
