"""Which config values are secrets, and how each is masked for display.

A key is declared secret where it is declared: a core or plugin key with
`config_key(..., secret=Secret.URL)`, a hand-read plugin table with `declare_secrets`.
Keys nobody declared are still masked by their shape (a `password`/`secret`/`token` name,
a URL's userinfo password, an RTMP URL's stream key), so a new plugin cannot leak by
forgetting to declare. Tables are named by path: `mqtt`, `cameras[]`, `rtmp.push[]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from nvr_edge.urls import split_url

MASK = "***"
_SECRET_NAME = re.compile(r"(password|passwd|secret|token|key)$", re.I)
_STREAM_SCHEMES = ("rtmp", "rtmps")
_QUERY_SECRET = re.compile(r"(?P<key>[?&](?:token|password|passwd|pwd|secret|key)=)[^&#]*",
                           re.I)


class Secret(StrEnum):
    VALUE = "value"        # the whole value: a password, a token
    URL = "url"            # a URL's userinfo password and secret query parameters
    STREAM_URL = "stream"  # a URL as above whose last path part is a key (RTMP)


@dataclass(frozen=True)
class SecretKey:
    """A declared secret. `bound_to` names sibling keys (URLs: compared by scheme, user
    and host) that own it: when one of them changes, a saved value is dropped unless the
    change gives the secret again, so it never follows a config to another server."""

    kind: Secret
    bound_to: tuple[str, ...] = ()


_DECLARED: dict[str, dict[str, SecretKey]] = {}


def declare_secrets(table: str, **keys: Secret | SecretKey) -> None:
    """Declare secret keys of `table` (`mqtt`, `rtmp.push[]`): masked wherever the config
    is shown and never quoted in an error; a `SecretKey` with `bound_to` is also dropped
    when what owns it changes."""
    path = _table_path(table)
    added = {name: kind if isinstance(kind, SecretKey) else SecretKey(kind)
             for name, kind in keys.items()}
    # a new dict, never one changed in place: another thread may be iterating the old one
    _DECLARED[path] = {**_DECLARED.get(path, {}), **added}


def _table_path(path: str) -> str:
    """A table's path as declarations name it: `cameras[2]` is `cameras[]`."""
    return re.sub(r"\[\d+\]", "[]", path)


def declared_secrets(table: str) -> Mapping[str, SecretKey]:
    return _DECLARED.get(_table_path(table), {})


def is_secret_key(table: str, key: str) -> bool:
    """Whether `table.key` holds a secret whatever its value (an error must not quote it);
    `table` may name an array element (`cameras[2]`)."""
    return key in declared_secrets(table) or bool(_SECRET_NAME.search(key))


def secret_kind(table: str, key: str, value: str) -> Secret | None:
    """How `table.key = value` is masked: as declared, else by its name and shape."""
    declared = declared_secrets(table).get(key)
    if declared is not None:
        return declared.kind
    if _SECRET_NAME.search(key):
        return Secret.VALUE
    parts = split_url(value)
    if parts is None:
        return None
    return Secret.STREAM_URL if parts.scheme.lower() in _STREAM_SCHEMES else Secret.URL


def mask_value(kind: Secret | None, value: str) -> str:
    """`value` with its secret parts replaced by `***`."""
    if kind is None or not value:
        return value
    if kind is Secret.VALUE:
        return MASK
    return mask_url(value, stream_key=kind is Secret.STREAM_URL)


def hidden_parts(value: str, masked: str) -> list[str]:
    """The pieces of `value` that `masked` (its mask_value) replaced by `***`."""
    fragments = masked.split(MASK)
    if len(fragments) < 2 or not value.startswith(fragments[0]):
        return []
    parts, at = [], len(fragments[0])
    for index, fragment in enumerate(fragments[1:], start=1):
        last = index == len(fragments) - 1
        end = len(value) - len(fragment) if last else value.find(fragment, at)
        if end < at or (last and not value.endswith(fragment)):
            return parts
        parts.append(value[at:end])
        at = end + len(fragment)
    return parts


def mask_url(value: str, stream_key: bool = False) -> str:
    """`value` with its userinfo password, secret query parameters and (`stream_key`) its
    last path part masked."""
    parts = split_url(value)
    if parts is None:
        return MASK if stream_key else value  # not a URL: cannot tell the key from the rest
    if "@" in parts.rest:
        masked = _mask_ambiguous(parts.scheme, value)
    else:
        password = None if parts.password is None else MASK
        rest = _QUERY_SECRET.sub(rf"\g<key>{MASK}", parts.rest)
        masked = f"{parts.scheme}://" + parts.text(password, rest).partition("://")[2]
    return _mask_stream_key(masked) if stream_key else masked


def _mask_stream_key(url: str) -> str:
    """Everything after the last '/' of the path (a trailing '/' aside) is the key."""
    start = url.find("/", url.find("://") + 3)
    end = url.rstrip("/").rfind("/")
    return url if start == -1 or end < start else url[:end + 1] + MASK


def _mask_ambiguous(scheme: str, value: str) -> str:
    """An '@' after the host (a password with an unencoded '/'): everything between the
    first ':' after '://' and the last '@' may be password."""
    after = value[len(scheme) + 3:]
    at = after.rfind("@")
    colon = after.find(":", 0, at)
    if colon == -1:
        return value
    return f"{scheme}://{after[:colon]}:{MASK}{after[at:]}"


def holds_mask(kind: Secret | None, value: str) -> bool:
    """Whether a secret part of `value` is `***` (a mask sent back, not a real secret)."""
    if kind is None or MASK not in value:
        return False
    parts = split_url(value) if kind is not Secret.VALUE else None
    if parts is None:
        return value == MASK
    if "@" in parts.rest:
        return f":{MASK}@" in value
    if parts.password == MASK or any(m.group(0).endswith(f"={MASK}")
                                     for m in _QUERY_SECRET.finditer(parts.rest)):
        return True
    return kind is Secret.STREAM_URL and parts.rest.rstrip("/").endswith(f"/{MASK}")


def owner(value: object) -> object:
    """What a bound secret is compared by: a URL's scheme, user and host, else the value."""
    parts = split_url(value) if isinstance(value, str) else None
    return value if parts is None else parts.identity
