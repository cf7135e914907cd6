"""The server's listening socket: asyncio turns Nagle's algorithm off on the connections it
accepts only when the socket says it is TCP; otherwise each answer on a kept-alive connection
waits ~40 ms for the client's delayed ACK (found by benchmarks/load.py)."""

from __future__ import annotations

import socket
import threading

from hypersweep.server import bind


def test_the_listening_socket_is_tcp_so_answers_are_not_delayed() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.type == socket.SOCK_STREAM
    finally:
        sock.close()


def test_accepted_connections_get_tcp_nodelay() -> None:
    import asyncio

    async def accept_one() -> int:
        listening = bind("127.0.0.1", 0)
        seen: list[int] = []

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = writer.get_extra_info("socket")
            seen.append(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listening)
        port = listening.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        while not seen:
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()
        return seen[0]

    # a thread of its own: an earlier test may leave an event loop set on this one
    seen: list[int] = []
    worker = threading.Thread(
        target=lambda: seen.append(asyncio.run(asyncio.wait_for(accept_one(), timeout=30)))
    )
    worker.start()
    worker.join(timeout=60)
    assert seen, "the connection was not accepted in time"
    assert seen[0] != 0
