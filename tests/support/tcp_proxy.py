"""A loopback TCP proxy that a test can cut and restore, to make a peer unreachable.

``close()`` stops listening (new connections are refused, as by a server that is down)
and resets every open connection; ``open()`` listens again on the same port. Threads,
not asyncio, so it runs beside any test without an event loop.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading

from infrastructure.mongo.embedded_server import free_port

logger = logging.getLogger(__name__)

CHUNK = 65536
# SO_LINGER with a zero timeout: close() sends RST, so the peer sees a reset connection
# at once instead of a graceful end of stream.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_host:target_port``."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1", port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.accepted = 0

    @property
    def is_open(self) -> bool:
        return self._listener is not None

    def open(self) -> TcpProxy:
        """Listen (again) on the proxy port."""
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()
        return self

    def close(self) -> None:
        """Refuse new connections and reset the existing ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            self._reset(conn)

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            if self._listener is not listener:
                self._reset(client)
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                self._reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections.update((client, upstream))
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(CHUNK):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            # One side ended: end both, so neither peer waits on a half-open connection.
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(sink)
            for conn in (source, sink):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    @staticmethod
    def _reset(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        # shutdown wakes the pipe thread blocked in recv() on this socket; close alone
        # would leave it blocked.
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            conn.close()
