"""The fault injector itself: a cut proxy refuses new connections and drops open ones."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def _roundtrip(conn: socket.socket, payload: bytes) -> bytes:
    conn.sendall(payload)
    return conn.recv(1024)


def test_proxy_forwards_then_cuts_then_forwards_again(echo_port: int) -> None:
    proxy = TcpProxy(echo_port).open()
    try:
        established = socket.create_connection(("127.0.0.1", proxy.port), timeout=3)
        assert _roundtrip(established, b"ping") == b"ping"

        proxy.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=3)
        # The open connection was dropped: reading ends or fails at once instead of hanging.
        with contextlib.suppress(ConnectionResetError):
            assert established.recv(1024) == b""
        established.close()

        proxy.open()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=3) as again:
            assert _roundtrip(again, b"pong") == b"pong"
    finally:
        proxy.close()
