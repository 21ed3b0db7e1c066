"""Tokens made by hand for the auth tests (PyJWT refuses to make the malicious ones)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from nvr_edge_web.auth import SECRET_FILE

VIEW_CAM1 = {"actions": ["view"], "cameras": ["cam1"]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A token put together by hand."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}." \
           f"{b64(signature)}"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": "tester", "iat": now, "exp": now + 300, "nvr": VIEW_CAM1}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def secret_of(state_dir: Path) -> bytes:
    return base64.urlsafe_b64decode((state_dir / SECRET_FILE).read_bytes().strip())
