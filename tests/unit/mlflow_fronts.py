"""Real HTTP(S) servers placed in front of a real MLflow server, for the module's TLS, token and retry paths.

A front forwards every GET to MLflow unchanged and records the ``Authorization`` header it saw. It can answer the
first ``failures`` requests with HTTP 503 (what a restarting route or proxy does) before forwarding, or answer
every request with a redirect to MLflow (what an http-to-https route does) instead of forwarding.
"""

import datetime
import ipaddress
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
UNAVAILABLE_BODY = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "front is failing on purpose"}'


@dataclass(frozen=True)
class TlsFiles:
    """A private CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def _name(common_name: str) -> x509.Name:
    """An X.509 name with only a common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate a CA and a 127.0.0.1 server certificate valid for one day, under ``directory``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("fraud-demo test CA"))
        .issuer_name(_name("fraud-demo test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(LOOPBACK))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    files.server_key.chmod(0o600)
    return files


class _FrontServer(ThreadingHTTPServer):
    """The listening socket plus what the handler needs: upstream URL, failures left, headers seen."""

    daemon_threads = True

    def __init__(self, upstream: str, failures: float, redirect: bool) -> None:
        super().__init__((LOOPBACK, 0), _ForwardingHandler)
        self.upstream = upstream
        self.failures_left = failures
        self.redirect = redirect
        self.authorization_seen: list[str] = []
        self.lock = threading.Lock()


class _ForwardingHandler(BaseHTTPRequestHandler):
    """Answer 503 while failures are left, else redirect or relay the GET to the upstream MLflow server."""

    server: _FrontServer

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        """Record the Authorization header, then fail, redirect or forward."""
        with self.server.lock:
            self.server.authorization_seen.append(self.headers.get("Authorization", ""))
            failing = self.server.failures_left > 0
            if failing:
                self.server.failures_left -= 1
        if failing:
            self._answer(503, UNAVAILABLE_BODY)
            return
        if self.server.redirect:
            self._answer(302, b"", location=self.server.upstream + self.path)
            return
        try:
            with urllib.request.urlopen(self.server.upstream + self.path, timeout=30) as response:
                self._answer(response.status, response.read())
        except urllib.error.HTTPError as error:
            self._answer(error.code, error.read())

    def _answer(self, status: int, body: bytes, location: str | None = None) -> None:
        """Send ``body`` as JSON with ``status`` (and a ``Location`` header when given)."""
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature of the base class)
        """Keep test output quiet."""


@dataclass(frozen=True)
class Front:
    """A running front: its base URL (use it as tracking URI) and the Authorization headers it received."""

    url: str
    authorization_seen: list[str]


@contextmanager
def run_front(
    upstream: str, failures: float = 0, redirect: bool = False, tls: TlsFiles | None = None
) -> Iterator[Front]:
    """Serve a front for ``upstream`` on a free 127.0.0.1 port (HTTPS with ``tls``) until the block ends."""
    server = _FrontServer(upstream, failures, redirect)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.server_cert, tls.server_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, name="mlflow-front", daemon=True)
    thread.start()
    try:
        yield Front(f"{scheme}://{LOOPBACK}:{server.server_address[1]}", server.authorization_seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
