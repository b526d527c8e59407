"""Development certificates and TLS contexts shared by the bindings (HTTPS, MQTTS, ...).

`create_dev_pki(directory)` makes a small certificate authority and a server certificate
for the loopback names (127.0.0.1, ::1, localhost) so TLS can be tried and tested without
an external tool; `cse certs DIR` on the command line calls it.  `server_context` and
`client_context` build `ssl.SSLContext`s from certificate files for any binding.

What this module must never do: be used to mint production certificates (the CA key sits
unencrypted next to the certificates), or weaken verification (no CERT_NONE contexts).
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
CA_DAYS = 3650
LEAF_DAYS = 825          # the longest validity mainstream TLS clients accept for a leaf


@dataclass(frozen=True)
class DevPki:
    """Paths of the files `create_dev_pki` wrote."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    def client(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) paths of a client certificate made by `create_client_cert`."""
        return self.directory / f"client-{name}.crt", self.directory / f"client-{name}.key"


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: fast to generate and to handshake, accepted by every TLS stack we use.
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    # Created 0600 from the start: a key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _subject_alt_names(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _issue(subject: str, public_key, issuer_cert: x509.Certificate | None,
           issuer_key: ec.EllipticCurvePrivateKey, days: int, *, ca: bool,
           hosts: tuple[str, ...] = (), usage: x509.ObjectIdentifier | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert else name)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=False, crl_sign=False, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=True,
            encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hosts:
        builder = builder.add_extension(_subject_alt_names(hosts), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def create_dev_pki(directory: str | Path, hosts: tuple[str, ...] = LOOPBACK_NAMES,
                   *, overwrite: bool = False) -> DevPki:
    """Write ca.crt/ca.key and server.crt/server.key (valid for `hosts`) into `directory`.

    Existing files are kept unless `overwrite`: re-running must not silently replace a CA
    that clients already trust.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pki = DevPki(directory, directory / "ca.crt", directory / "ca.key",
                 directory / "server.crt", directory / "server.key")
    existing = [p for p in (pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key) if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} already exists (use overwrite to replace the certificates)")
    ca_key = _new_key()
    ca_cert = _issue("oneM2M CSE development CA", ca_key.public_key(), None, ca_key, CA_DAYS, ca=True)
    server_key = _new_key()
    server_cert = _issue(hosts[0], server_key.public_key(), ca_cert, ca_key, LEAF_DAYS, ca=False,
                         hosts=hosts, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    _write_key(pki.ca_key, ca_key)
    _write_cert(pki.ca_cert, ca_cert)
    _write_key(pki.server_key, server_key)
    _write_cert(pki.server_cert, server_cert)
    return pki


def create_client_cert(pki: DevPki, name: str) -> tuple[Path, Path]:
    """A client certificate with common name `name` (e.g. an AE-ID), signed by the dev CA."""
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pki.ca_key} is not the EC key of a CA made by create_dev_pki")
    key = _new_key()
    cert = _issue(name, key.public_key(), ca_cert, ca_key, LEAF_DAYS, ca=False,
                  usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    cert_path, key_path = pki.client(name)
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path


def server_context(cert: str | Path, key: str | Path, ca: str | Path | None = None, *,
                   require_client_cert: bool = False) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2+).  With `ca`, client certificates signed by it are
    verified when offered; `require_client_cert` refuses clients without one."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    if ca:
        context.load_verify_locations(cafile=str(ca))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    elif require_client_cert:
        raise ValueError("requiring client certificates needs a CA file to verify them")
    return context


def client_context(ca: str | Path | None = None, cert: str | Path | None = None,
                   key: str | Path | None = None) -> ssl.SSLContext:
    """A TLS client context that verifies the server against `ca` (system CAs when None),
    presenting `cert`/`key` when given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca) if ca else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def peer_common_name(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    """The common name of a verified peer certificate, or None."""
    if ssl_object is None:
        return None
    peer = ssl_object.getpeercert()
    if not peer:
        return None
    for rdn in peer.get("subject", ()):
        for pair in rdn:                  # (("commonName", "name"),) per relative name
            if isinstance(pair, tuple) and pair[0] == "commonName":
                return pair[1]
    return None
