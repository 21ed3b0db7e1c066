"""Why a camera gave no stream, in words an operator can act on.

FFmpeg answers "Invalid data found when processing input" alike for a server that sends
garbage, one that says nothing and one that hangs up at once. After a session that never
got going, the worker asks the camera itself: connect, send an RTSP OPTIONS, read the
first line of the answer. Plain RTSP only; an `rtsps` camera is only connected to (TLS
would need its own handshake to say more).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

ANSWER_BYTES = 256
SHOWN_CHARS = 60


@dataclass(frozen=True)
class Diagnosis:
    reachable: bool  # something accepts TCP connections on the RTSP port
    reason: str | None  # what is wrong; None: the camera answers RTSP as it should


def diagnose(host: str, port: int, timeout_s: float, rtsp: bool = True) -> Diagnosis:
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except ConnectionRefusedError:
        return Diagnosis(False, "RTSP: connection refused")
    except TimeoutError:
        return Diagnosis(False, f"no answer on the RTSP port {host}:{port} "
                                f"(connect timed out after {timeout_s:g} s)")
    except OSError as exc:
        return Diagnosis(False, f"RTSP port {host}:{port} unreachable: "
                                f"{exc.strerror or type(exc).__name__}")
    with sock:
        if not rtsp:
            return Diagnosis(True, None)
        return Diagnosis(True, _judge_answer(sock, host, port, timeout_s))


def _judge_answer(sock: socket.socket, host: str, port: int, timeout_s: float) -> str | None:
    started = time.monotonic()
    shown = f"[{host}]" if ":" in host else host  # an IPv6 literal
    try:
        sock.sendall(f"OPTIONS rtsp://{shown}:{port}/ RTSP/1.0\r\nCSeq: 1\r\n"
                     "User-Agent: nvr-edge\r\n\r\n".encode())
        answer = sock.recv(ANSWER_BYTES)
    except TimeoutError:
        return f"no data for {time.monotonic() - started:.0f} s after connect"
    except OSError:
        answer = b""  # reset by the peer: as good as closed
    if not answer:
        return "the camera closed the connection right after connecting"
    if answer.startswith(b"RTSP/1."):
        return None
    return f"not an RTSP server: {describe(answer)}"


def describe(data: bytes) -> str:
    """A short, printable account of what a server sent."""
    line = data.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    text = line.decode("ascii", "replace")
    if not text or sum(ch.isprintable() for ch in text) < len(text) * 0.9:
        return f"answered {len(data)} bytes of binary data"
    shown = text[:SHOWN_CHARS] + ("…" if len(text) > SHOWN_CHARS else "")
    return f"answered {shown!r}"
