"""A plain HTTP client for the tests: raw paths (nothing normalised), every status returned."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        assert (self.headers.get("Content-Type") or "").startswith("application/json"), \
            (self.status, self.headers.get("Content-Type"), self.body[:200])
        return json.loads(self.body)


class Client:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port

    def request(self, path: str, *, token: str | None = None, method: str = "GET",
                headers: Mapping[str, str] | None = None, body: bytes | None = None) -> Reply:
        """`token` goes into `Authorization: Bearer`; put ?token= in `path` for the query."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def get(self, path: str, token: str | None = None, **headers: str) -> Reply:
        return self.request(path, token=token, headers={k.replace("_", "-"): v
                                                        for k, v in headers.items()})
