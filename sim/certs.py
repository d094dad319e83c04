"""Self-signed OPC UA application certificates (for the simulator's server and for test clients)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

__all__ = ["make_self_signed"]


def make_self_signed(
    cert_path: Path, key_path: Path, app_uri: str, *, server: bool = True, days: int = 30
) -> None:
    """Write a new RSA-2048 key (PEM) and a self-signed certificate (DER) for ``app_uri``.

    The certificate names ``app_uri``, localhost, this host's name and 127.0.0.1, as OPC UA
    (Part 6, 6.2.2) wants the application URI in the subject alternative names. Raises OSError
    when the files cannot be written.
    """
    key = generate_private_key()
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(app_uri),
        x509.DNSName("localhost"),
        x509.DNSName(socket.gethostname()),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = generate_self_signed_app_certificate(
        key, app_uri, {"organizationName": "retrofit-verify"}, names, extended=[usage], days=days
    )
    key_path.write_bytes(dump_private_key_as_pem(key))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
