"""Certificates and keys for a throwaway control plane: a CA, an admin client cert, SA signing keys, and the
CAs that OpenShift runs: the service CA (signs Services' serving certificates, trusted through the
`openshift-service-ca.crt` ConfigMaps) and the ingress CA (signs the router's `*.apps` certificate).

Everything is generated fresh for each control plane and written 0600 under its own directory; the kube CA's
key stays in memory and is never written. The service and ingress CA keys are written (0600, in the 0700
directory) because the simulator process signs with them, as OpenShift's service-ca operator does.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=2)


@dataclass(frozen=True)
class Pki:
    """Paths of the generated material."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_public_key: Path
    sa_private_key: Path


def _write(path: Path, data: bytes) -> Path:
    path.touch(mode=0o600)
    path.write_bytes(data)
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName] | None = None,
) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, ca_name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


@dataclass(frozen=True)
class Authority:
    """A CA on disk (certificate and key PEM files) that issues serving certificates."""

    cert: Path
    key: Path

    @classmethod
    def create(cls, directory: Path, name: str, common_name: str) -> Authority:
        """A new self-signed CA written as `<name>.crt` / `<name>.key` (0600) under `directory`."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(common_name)
        cert = (
            _builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(
            _write(directory / f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            _write(directory / f"{name}.key", _key_pem(key)),
        )

    def pem(self) -> str:
        return self.cert.read_text()

    def issue(self, common_name: str, dns_names: list[str], ips: list[str] = ()) -> tuple[bytes, bytes]:  # type: ignore[assignment]
        """A serving certificate and its key (PEM) for these names and addresses."""
        ca_cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        ca_key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
        return _leaf(ca_key, ca_cert.subject, _name(common_name), ExtendedKeyUsageOID.SERVER_AUTH, sans)  # type: ignore[arg-type]


def generate(directory: Path, service_ip: str | None = None) -> Pki:
    """Create a CA, a serving cert for 127.0.0.1/localhost and the `kubernetes` Service (its names and
    `service_ip`), an admin client cert in `system:masters`, and an RSA key pair for signing service-account
    tokens."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("fraud-demo-test-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    serving_cert, serving_key = _leaf(
        ca_key,
        ca_name,
        _name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            *([x509.IPAddress(ipaddress.ip_address(service_ip))] if service_ip else []),
            x509.DNSName("localhost"),
            *(x509.DNSName(n) for n in ("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")),
        ],
    )
    admin_cert, admin_key = _leaf(ca_key, ca_name, _name("admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_public = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Pki(
        ca_cert=_write(directory / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM)),
        serving_cert=_write(directory / "apiserver.crt", serving_cert),
        serving_key=_write(directory / "apiserver.key", serving_key),
        admin_cert=_write(directory / "admin.crt", admin_cert),
        admin_key=_write(directory / "admin.key", admin_key),
        sa_public_key=_write(directory / "sa.pub", sa_public),
        sa_private_key=_write(directory / "sa.key", _key_pem(sa_key)),
    )
