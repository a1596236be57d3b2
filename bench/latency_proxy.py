"""A loopback TCP proxy that adds a fixed delay to every chunk from client to server.

Put in front of the MongoDB server it makes every request reach the server ``delay``
later (replies travel back at once), as a MongoDB a few milliseconds away would. The
chunks are delayed, not serialised: each is forwarded at its arrival time plus the
delay, so the proxy adds latency without limiting throughput.

``python -m bench.latency_proxy --target 127.0.0.1:27017 --delay-ms 10 --port 27018``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import sys

CHUNK = 65536


def ensure_loopback(host: str) -> None:
    """The proxy only ever listens on, and forwards to, this machine."""
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"{host} is not a loopback address")


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _forward_delayed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Read as fast as the client sends; forward each chunk ``delay`` after it arrived."""
    loop = asyncio.get_running_loop()
    pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send_when_due() -> None:
        while True:
            due, data = await pending.get()
            if not data:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(send_when_due())
    try:
        while data := await reader.read(CHUNK):
            pending.put_nowait((loop.time() + delay, data))
        pending.put_nowait((loop.time() + delay, b""))
        await sender
    finally:
        sender.cancel()
        with contextlib.suppress(Exception):
            writer.close()


class LatencyProxy:
    """Forwards ``listen_host:port`` to ``target``, delaying client-to-server chunks."""

    def __init__(self, target_host: str, target_port: int, delay_seconds: float, port: int = 0) -> None:
        ensure_loopback(target_host)
        if delay_seconds < 0:
            raise ValueError("the delay must be >= 0")
        self.target = (target_host, target_port)
        self.delay = delay_seconds
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self, listen_host: str = "127.0.0.1") -> int:
        ensure_loopback(listen_host)
        self._server = await asyncio.start_server(self._handle, listen_host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def serve_forever(self) -> None:
        assert self._server is not None, "start() first"
        async with self._server:
            await self._server.serve_forever()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        upstream = (
            _forward_delayed(client_reader, server_writer, self.delay)
            if self.delay > 0
            else _forward(client_reader, server_writer)
        )
        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.gather(upstream, _forward(server_reader, client_writer))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", required=True, help="host:port to forward to (loopback only)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay per client-to-server chunk")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    proxy = LatencyProxy(host, int(port), args.delay_ms / 1000.0, args.port)

    async def run() -> None:
        listening = await proxy.start()
        print(f"listening on 127.0.0.1:{listening}", flush=True)
        await proxy.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    sys.exit(0)


if __name__ == "__main__":
    main()
