"""A hand-rolled RTSP client for what real players do not do on purpose: send a chosen
Authorization, or PLAY and then stop reading."""

from __future__ import annotations

import socket


class RawClient:
    def __init__(self, port: int, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:  # before connect: the window the server may fill
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(15)
        self.sock.connect(("127.0.0.1", port))
        self.port, self.cseq, self.session = port, 0, ""

    def request(self, method: str, path: str, **headers: str) -> tuple[int, dict[str, str]]:
        self.cseq += 1
        lines = [f"{method} rtsp://127.0.0.1:{self.port}/{path} RTSP/1.0", f"CSeq: {self.cseq}"]
        if self.session:
            lines.append(f"Session: {self.session}")
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("closed")
            head += chunk
        text = head.decode()
        status = int(text.split(" ")[1])
        found: dict[str, str] = {}
        for line in text.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name:
                found.setdefault(name.lower(), value.strip())
                if name.lower() == "www-authenticate":
                    found["www-authenticate"] = found.get("www-authenticate", "") + value
        length = int(found.get("content-length", "0"))
        body = b""
        while len(body) < length:
            body += self.sock.recv(length - len(body))
        found["body"] = body.decode()
        if "session" in found:
            self.session = found["session"].split(";")[0]
        return status, found

    def play(self, path: str, **auth: str) -> None:
        """DESCRIBE, SETUP (video over TCP), PLAY; raises unless each is 200."""
        for method, suffix, extra in (
                ("DESCRIBE", "", {}),
                ("SETUP", "/trackID=0", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}),
                ("PLAY", "", {})):
            status, found = self.request(method, path + suffix, **auth, **extra)
            if status != 200:
                raise AssertionError(f"{method}: {status} {found.get('body')}")

    def close(self) -> None:
        self.sock.close()
