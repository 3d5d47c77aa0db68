"""A real TCP (optionally TLS) listener that takes requests and never answers: for client timeouts, to see what
a client sent, and to check a client's TLS verification (the handshake completes, the answer never comes)."""

import socket
import ssl
import threading

from support.ports import LOOPBACK


class SilentServer:
    """Accepts connections on 127.0.0.1, records each request's head (line and headers), never answers."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """Listen on a free port; with `tls`, do the server side of a TLS handshake first."""
        self._socket = socket.create_server((LOOPBACK, 0))
        self._tls = tls
        self.url = f"{'https' if tls else 'http'}://{LOOPBACK}:{self._socket.getsockname()[1]}"
        self.requests: list[bytes] = []
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed by close()
                return
            self._connections.append(connection)
            try:
                if self._tls:
                    connection = self._tls.wrap_socket(connection, server_side=True)
                    self._connections.append(connection)
                self.requests.append(_read_head(connection))
            except OSError:  # the client refused the handshake, or close() dropped the connection
                continue

    def close(self) -> None:
        """Stop listening (waking the blocked accept) and drop every connection."""
        self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        for connection in self._connections:
            connection.close()
        self._thread.join(timeout=5)


def _read_head(connection: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    return received
