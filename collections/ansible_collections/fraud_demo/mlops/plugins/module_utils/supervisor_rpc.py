"""supervisord's XML-RPC interface over its unix socket (standard library only), and the file helpers of the
modules that manage supervisord and its programs."""

import http.client
import os
import socket
import tempfile
import xmlrpc.client

# supervisor.xmlrpc.Faults codes this collection acts on.
BAD_NAME = 10
ALREADY_STARTED = 60
NOT_RUNNING = 70
ALREADY_ADDED = 90


class _UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a unix socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class _UnixTransport(xmlrpc.client.Transport):
    """An XML-RPC transport whose connections go to a unix socket."""

    def __init__(self, path, timeout):
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host):
        return _UnixHTTPConnection(self._path, self._timeout)


def supervisor_proxy(socket_path, timeout=30):
    """The ``supervisor`` namespace of the supervisord listening on ``socket_path``."""
    proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=_UnixTransport(socket_path, timeout))
    return proxy.supervisor


def process_state(supervisor, name):
    """The program's state name (RUNNING, STOPPED, FATAL, ...), or None when supervisord does not know it."""
    try:
        return supervisor.getProcessInfo(name)["statename"]
    except xmlrpc.client.Fault as fault:
        if fault.faultCode == BAD_NAME:
            return None
        raise


def ignoring(supervisor_call, *codes):
    """Call ``supervisor_call()``; a Fault with one of ``codes`` is the wanted state already, so return None."""
    try:
        return supervisor_call()
    except xmlrpc.client.Fault as fault:
        if fault.faultCode in codes:
            return None
        raise


def write_file(module, path, content, mode):
    """Replace ``path`` atomically with ``content`` and ``mode``."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".fraud_demo.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(content)
    os.chmod(temporary, mode)
    module.atomic_move(temporary, path)
    os.chmod(path, mode)  # atomic_move gives a new file the umask's mode


def log_tail(path, lines=40):
    """The last ``lines`` lines of a log (read from its last 64 KiB), for a failure message."""
    if not path or not os.path.exists(path):
        return "(no log at %s)" % path
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 64 * 1024))
        text = handle.read().decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])
