"""One RTSP client connection: requests in order, then (after PLAY) its live packets as
interleaved RTP on the same TCP connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import struct
import time
from typing import Any

from nvr_edge import Config

from .media import MediaSender, SendPolicy
from .outputs import Interleaved, TrackOut, open_udp
from .paths import Route, route
from .protocol import (
    Request,
    RtspError,
    parse_head,
    parse_target,
    parse_transport,
    response,
    scrub_url,
)
from .sdp import describe, serves_audio
from .stats import PathStats

log = logging.getLogger(__name__)
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
SESSION_TIMEOUT_S = 60
KERNEL_SNDBUF = 256 * 1024  # else loopback autotuning queues 4 MB before a stall shows
INFO_WAIT_S = 10.0   # a DESCRIBE waits this long for a just-started camera's stream info
IDLE_TIMEOUT_S = 30.0  # without PLAY, a connection must send a request this often


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 server: Any) -> None:
        self.reader, self.writer, self.server = reader, writer, server
        self.peer = "{}:{}".format(*writer.get_extra_info("peername")[:2])
        sock = writer.get_extra_info("socket")
        if sock is not None:  # the backlog is ours to bound (SendPolicy), not the kernel's
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SNDBUF)
        self.session = secrets.token_hex(8)
        self.allowed: set[str] = set()     # cameras this connection has proved access to
        self.route: Route | None = None
        self.outs: dict[int, TrackOut] = {}  # per track set up: where its RTP goes
        self.viewer: Any = None
        self.sender: MediaSender | None = None
        self.pump: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.stats: PathStats | None = None
        self.preroll: list[Any] = []  # before PLAY: the packets since the last keyframe

    @property
    def config(self) -> Config:
        return self.server.config

    async def run(self) -> None:
        try:
            while True:
                request = await self._read_request()
                if request is None:
                    return
                reply = await self._answer(request)
                self.writer.write(reply)
                if request.method == "TEARDOWN":
                    await self.writer.drain()
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._stop_media("the client left")
            self.writer.close()

    async def _read_request(self) -> Request | None:
        """The next request; None when the client left, sent garbage, or (not playing)
        sent nothing for IDLE_TIMEOUT_S: an idle connection must not hold a slot."""
        timeout = self._request_timeout()
        try:
            return await asyncio.wait_for(self._next_request(), timeout)
        except TimeoutError:
            log.info("rtsp %s: no request for %.0f s; closed", self.peer, timeout or 0)
            return None

    def _request_timeout(self) -> float | None:
        """Not playing: IDLE_TIMEOUT_S. Playing over TCP: none (a gone client shows as a
        write error or a backlog). Playing over UDP: the session timeout we announced,
        with room, since nothing else would notice a client that vanished."""
        if self.pump is None:
            return IDLE_TIMEOUT_S
        if any(isinstance(out, Interleaved) for out in self.outs.values()):
            return None
        return SESSION_TIMEOUT_S * 1.5

    async def _next_request(self) -> Request | None:
        while True:
            first = await self.reader.read(1)
            if not first:
                return None
            if first == b"$":  # the client's RTCP receiver reports: read and let go
                head = await self.reader.readexactly(3)
                await self.reader.readexactly(int.from_bytes(head[1:3], "big"))
                continue
            try:
                rest = await self.reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                self.writer.write(response(400, "0", body=b"request head too long\n"))
                return None
            except asyncio.IncompleteReadError:
                return None
            try:
                request, length = parse_head(first + rest[:-4])
            except RtspError as exc:
                self.writer.write(response(exc.status, "0"))
                log.info("rtsp %s: refused a request: %s", self.peer, exc.reason)
                return None
            if length:
                request.body = await self.reader.readexactly(length)
            return request

    async def _answer(self, request: Request) -> bytes:
        try:
            return await self._dispatch(request)
        except RtspError as exc:
            headers = self.server.auth.challenges() if exc.status == 401 else []
            self.server.refused(exc.status)
            log.info("rtsp %s: %s %s refused (%d): %s", self.peer, request.method,
                     scrub_url(request.url), exc.status, exc.reason)
            body = (exc.reason + "\n").encode()
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
            return response(exc.status, request.cseq, headers, body)

    async def _dispatch(self, request: Request) -> bytes:
        method, cseq = request.method, request.cseq
        if method == "OPTIONS":
            return response(200, cseq, [("Public", PUBLIC)])
        if method in ("GET_PARAMETER", "SET_PARAMETER"):  # keep-alives
            return response(200, cseq, self._session_header())
        if method == "TEARDOWN":
            self._stop_media("teardown")
            return response(200, cseq, self._session_header())
        if method not in ("DESCRIBE", "SETUP", "PLAY"):
            raise RtspError(405, f"{method} is not supported here")
        target = parse_target(request.url)
        if method == "PLAY" and target.camera is None and self.route is not None:
            here = self.route
        else:
            here = route(self.config, target.camera, target.stream)
        if here.camera not in self.allowed:
            who = await self.server.auth.check(request, target, here.camera)
            self.allowed.add(here.camera)
            log.info("rtsp %s: %s may watch %s/%s", self.peer, who, here.camera, here.stream)
        if method == "DESCRIBE":
            return await self._describe(request, here)
        if method == "SETUP":
            return await self._setup(request, here, target.track)
        return self._play(request, here)

    async def _describe(self, request: Request, here: Route) -> bytes:
        info = await self._stream_info(here)
        try:
            tracks = describe(info, f"{here.camera}/{here.stream}",
                              self.writer.get_extra_info("sockname")[0])
        except ValueError as exc:
            raise RtspError(415, str(exc)) from None
        if tracks.skipped_audio:
            log.info("rtsp: %s/%s: audio %s is not served over RTSP (AAC is); video only",
                     here.camera, here.stream, tracks.skipped_audio)
        base = scrub_url(request.url).rstrip("/")
        return response(200, request.cseq, [("Content-Base", base + "/"),
                                            ("Content-Type", "application/sdp")],
                        tracks.sdp.encode())

    async def _stream_info(self, here: Route) -> Any:
        """The feed's stream info; a viewer is subscribed meanwhile so that an on-demand
        stream starts (it stays subscribed for the PLAY that usually follows)."""
        self._subscribe(here)
        deadline = time.monotonic() + INFO_WAIT_S
        while self.viewer.info is None:
            if self.viewer.closed:  # refused at once: a rung over the encoding budget ...
                reason = self.viewer.closed
                self._stop_media(reason)
                raise RtspError(503, f"{here.camera}/{here.stream}: {reason}")
            if time.monotonic() > deadline:
                self._stop_media("no stream")
                raise RtspError(503, f"{here.camera}/{here.stream} has no stream yet "
                                     "(camera offline or connecting)")
            await asyncio.sleep(0.1)
        return self.viewer.info

    def _subscribe(self, here: Route) -> None:
        if self.viewer is not None and self.route == here:
            return
        self._stop_media("switched path")
        self.route = here
        loop = asyncio.get_running_loop()
        pending = [False]

        def notify() -> None:  # hub thread: one wake-up queued at a time
            if not pending[0]:
                pending[0] = True
                loop.call_soon_threadsafe(self._woken, pending)

        self.viewer = self.server.live.subscribe(here.camera, notify, here.feed)
        self.stats = self.server.path_stats(here)

    def _woken(self, pending: list[bool]) -> None:
        pending[0] = False
        if self.pump is not None:
            self.wake.set()
        elif self.viewer is not None:  # not playing yet: keep the current GOP only
            for packet in self.viewer.take():
                if not packet.audio and packet.keyframe:
                    self.preroll = []
                if self.preroll or (not packet.audio and packet.keyframe):
                    self.preroll.append(packet)

    async def _setup(self, request: Request, here: Route, track: int | None) -> bytes:
        if self.pump is not None:
            raise RtspError(455, "already playing")
        transport = parse_transport(request.headers.get("transport", ""))
        if track not in (0, 1, None):
            raise RtspError(404, f"no track {track}")
        info = await self._stream_info(here)
        if track == 1 and not serves_audio(info):
            raise RtspError(404, "this stream has no audio track")
        old = self.outs.pop(track or 0, None)
        if old is not None:
            old.close()
        if transport.interleaved is not None:
            self.outs[track or 0] = Interleaved(self.writer.transport, transport.interleaved)
            a, b = transport.interleaved
            answer = f"RTP/AVP/TCP;unicast;interleaved={a}-{b}"
        else:
            assert transport.client_ports is not None
            peer = self.writer.get_extra_info("peername")[0]
            local = self.writer.get_extra_info("sockname")[0]
            try:
                udp = await open_udp(local, peer, transport.client_ports)
            except OSError as exc:
                raise RtspError(461, f"no UDP port pair: {exc.strerror}; use TCP") from None
            self.outs[track or 0] = udp
            a, b = transport.client_ports
            c, d = udp.server_ports
            answer = f"RTP/AVP;unicast;client_port={a}-{b};server_port={c}-{d}"
        return response(200, request.cseq, [("Transport", answer), *self._session_header()])

    def _play(self, request: Request, here: Route) -> bytes:
        if not self.outs or self.viewer is None or self.viewer.info is None:
            raise RtspError(455, "SETUP comes before PLAY")
        if self.pump is None:
            settings = self.server.settings
            self.sender = MediaSender(
                self.viewer.info, self.outs,
                SendPolicy(settings.max_buffer_bytes, settings.stall_timeout_s))
            self.pump = asyncio.create_task(self._pump())
            self.wake.set()
            assert self.stats is not None
            self.stats.sessions += 1
        assert self.sender is not None
        base = scrub_url(request.url).rstrip("/")
        return response(200, request.cseq, [*self._session_header(), ("Range", "npt=now-"),
                                            ("RTP-Info", self.sender.rtp_info(base))])

    async def _pump(self) -> None:
        sender, viewer, stats = self.sender, self.viewer, self.stats
        assert sender is not None and stats is not None
        while True:
            await self.wake.wait()
            self.wake.clear()
            if viewer.closed:
                break
            if viewer.info is not None and viewer.info.video_codec != sender.codec:
                viewer.close("the camera's codec changed")
                break
            now = time.monotonic()
            before_bytes, before_drops = sender.bytes_out, sender.dropped
            packets, self.preroll = self.preroll + viewer.take(), []
            for packet in packets:
                sender.send(packet, now)
            if packets:
                stats.waited(now - packets[-1].arrival)
            stats.bytes += sender.bytes_out - before_bytes
            stats.drops += sender.dropped - before_drops
            if sender.stalled:
                stats.disconnected += 1
                log.warning("rtsp %s: %s/%s: %s; disconnected", self.peer, viewer.camera,
                            self.route.stream if self.route else "?", sender.stalled)
                sock = self.writer.get_extra_info("socket")
                if sock is not None:  # a reset: the kernel drops what it still holds
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                self.writer.transport.abort()
                return
        log.info("rtsp %s: stream ended: %s", self.peer, viewer.closed)
        self.writer.transport.close()

    def _session_header(self) -> list[tuple[str, str]]:
        return [("Session", f"{self.session};timeout={SESSION_TIMEOUT_S}")]

    def _stop_media(self, reason: str) -> None:
        if self.pump is not None:
            self.pump.cancel()
            self.pump = None
            if self.stats is not None:
                self.stats.sessions -= 1
        if self.viewer is not None:
            self.server.live.unsubscribe(self.viewer)
            self.viewer = None
        for out in self.outs.values():
            out.close()
        self.outs, self.preroll = {}, []
        self.wake.clear()
