"""Where one track's RTP and RTCP go: interleaved on the RTSP connection (TCP), or UDP
datagrams to the client's ports from a server port pair of this session."""

from __future__ import annotations

import asyncio
from typing import Protocol

from .rtp import interleaved


class TrackOut(Protocol):
    def rtp(self, packets: list[bytes]) -> None: ...

    def rtcp(self, packet: bytes) -> None: ...

    def buffered(self) -> int: ...

    def close(self) -> None: ...


class Interleaved:
    """One write per access unit: the packets framed with `$`, channel and length."""

    def __init__(self, transport: asyncio.WriteTransport, channels: tuple[int, int]) -> None:
        self.transport, self.channels = transport, channels

    def rtp(self, packets: list[bytes]) -> None:
        self.transport.write(b"".join(interleaved(self.channels[0], p) for p in packets))

    def rtcp(self, packet: bytes) -> None:
        self.transport.write(interleaved(self.channels[1], packet))

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size()

    def close(self) -> None:
        pass  # the RTSP connection is the client's to close


class Udp:
    def __init__(self, rtp: asyncio.DatagramTransport, rtcp: asyncio.DatagramTransport) -> None:
        self.rtp_transport, self.rtcp_transport = rtp, rtcp

    @property
    def server_ports(self) -> tuple[int, int]:
        return (self.rtp_transport.get_extra_info("sockname")[1],
                self.rtcp_transport.get_extra_info("sockname")[1])

    def rtp(self, packets: list[bytes]) -> None:
        for packet in packets:
            self.rtp_transport.sendto(packet)

    def rtcp(self, packet: bytes) -> None:
        self.rtcp_transport.sendto(packet)

    def buffered(self) -> int:
        return self.rtp_transport.get_write_buffer_size()

    def close(self) -> None:
        self.rtp_transport.close()
        self.rtcp_transport.close()


async def open_udp(local_host: str, client_host: str, client_ports: tuple[int, int]) -> Udp:
    """A server port pair sending to the client's ports (what it says back to us, its
    receiver reports, is not read)."""
    loop = asyncio.get_running_loop()
    made: list[asyncio.DatagramTransport] = []
    try:
        for port in client_ports:
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=(local_host, 0),
                remote_addr=(client_host, port))
            made.append(transport)
    except OSError:
        for transport in made:
            transport.close()
        raise
    return Udp(made[0], made[1])

