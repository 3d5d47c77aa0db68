"""A real TCP listener that takes requests and never answers: for client timeouts, and to see what was sent."""

import socket
import threading

from support.ports import LOOPBACK


class SilentServer:
    """A real TCP listener that accepts connections, records the request bytes, and never answers."""

    def __init__(self) -> None:
        self._socket = socket.create_server((LOOPBACK, 0))
        self.url = f"http://{LOOPBACK}:{self._socket.getsockname()[1]}"
        self.requests: list[bytes] = []
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            while True:
                connection, _ = self._socket.accept()
                self._connections.append(connection)
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                self.requests.append(received)
        except OSError:  # closed by close()
            return

    def close(self) -> None:
        """Stop listening (waking the blocked accept) and drop every connection."""
        self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        for connection in self._connections:
            connection.close()
        self._thread.join(timeout=5)
