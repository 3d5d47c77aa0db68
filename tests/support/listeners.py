"""Probes of a server's listeners as an outsider would make them: raw HTTP/1.1 over TCP or a unix socket, and gRPC
in plaintext, TLS without a client certificate, and TLS with one (tests/e2e/test_local_lockdown.py)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import grpc

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class HttpAnswer:
    """What came back: the status (None when the connection was refused, reset or spoke something else)."""

    status: int | None
    headers: dict[str, str]
    body: bytes


def http(target: tuple[str, int] | Path, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> HttpAnswer:
    """One HTTP/1.1 request to ``target`` ((host, port) or a unix socket path), read until the server closes."""
    family = socket.AF_UNIX if isinstance(target, Path) else socket.AF_INET
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             f"Content-Length: {len(body)}", *(f"{key}: {value}" for key, value in (headers or {}).items())]
    raw = b""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT_S)
            sock.connect(str(target) if isinstance(target, Path) else target)
            sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
            while chunk := sock.recv(65536):
                raw += chunk
    except OSError:  # refused, reset, timed out: nothing was served
        pass
    head, _, content = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return HttpAnswer(None, {}, raw)
    fields = dict(line.split(":", 1) for line in header_lines if ":" in line)
    return HttpAnswer(int(parts[1]), {key.strip().lower(): value.strip() for key, value in fields.items()}, content)


def grpc_code(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    """The status of one call of a method no server has: UNIMPLEMENTED means the server accepted the caller (its
    transport and credentials); UNAVAILABLE means it did not get that far."""
    options = [("grpc.ssl_target_name_override", "localhost")]
    channel = (grpc.secure_channel(target, credentials, options=options) if credentials
               else grpc.insecure_channel(target))
    with channel:
        try:
            channel.unary_unary("/fraud_demo.Probe/Nothing")(b"", timeout=TIMEOUT_S)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def tls(ca: Path, cert: Path | None = None, key: Path | None = None) -> grpc.ChannelCredentials:
    """TLS credentials trusting ``ca``, presenting ``cert``/``key`` when given."""
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


def stranger_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed client certificate for 127.0.0.1 from a CA nobody trusts: (certificate, key) in ``directory``."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "stranger.crt", directory / "stranger.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
