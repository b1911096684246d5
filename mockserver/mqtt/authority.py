"""The sandbox's own certificate authority: it signs the broker's certificate, the
sandbox's publisher's, and every client's CSR that ``POST /connect/client/certificate``
receives (what AWS IoT Core does for the real ThinQ Connect).

One per server process, kept with ``--state-file`` (``CA_KEY`` and ``CA_CERT`` in the
channel's folder), so a client that was given a certificate before a restart connects
again after it. Keys are EC P-256: quick to make at every start, accepted by awscrt and
mosquitto alike. Clients bring their own key (the SDK makes an RSA-2048 one).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_KEY = "ca.key"
CA_CERT = "ca.pem"
CA_NAME = "lgmock sandbox MQTT CA"
PUBLISHER = "lgmock-publisher"  # the sandbox's own client, the one allowed to publish
CA_DAYS = 3650
LEAF_DAYS = 825  # what browsers and most TLS stacks still accept for a leaf
_CSR_ARMOUR = "CERTIFICATE REQUEST"


class CsrError(ValueError):
    """A CSR the authority cannot sign; the message says why."""


@dataclass(frozen=True)
class Credentials:
    """A key and its certificate, as PEM bytes (what mosquitto and ssl read from files)."""

    key_pem: bytes
    cert_pem: bytes


def _now() -> datetime.datetime:
    # Certificates follow the wall clock, not the sandbox clock: TLS stacks check them
    # against the machine's time, and a frozen or moved sandbox clock must not break it.
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Authority:
    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self._key = key
        self.cert = cert
        self.ca_pem = cert.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def create(cls) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def kept_in(cls, folder: Path) -> Authority:
        """The authority saved in ``folder``, or a new one saved there."""
        key_path, cert_path = folder / CA_KEY, folder / CA_CERT
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_path}: not the EC key lgmock writes")
            return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        authority = cls.create()
        folder.mkdir(parents=True, exist_ok=True)
        key_path.touch(mode=0o600)
        key_path.write_bytes(_key_pem(authority._key))
        cert_path.write_bytes(authority.ca_pem)
        return authority

    # ------------------------------------------------------------------ issuing
    def _issue(
        self,
        public_key: CertificateIssuerPublicKeyTypes,
        common_name: str,
        usage: x509.ObjectIdentifier,
        alternative_names: list[x509.GeneralName] | None = None,
    ) -> bytes:
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if alternative_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(alternative_names), critical=False
            )
        return builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    def server_credentials(self, address: str) -> Credentials:
        """The broker's key and certificate for ``address`` (an IP: clients check it)."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(address))]
        cert = self._issue(key.public_key(), address, ExtendedKeyUsageOID.SERVER_AUTH, names)
        return Credentials(_key_pem(key), cert)

    def publisher_credentials(self) -> Credentials:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._issue(key.public_key(), PUBLISHER, ExtendedKeyUsageOID.CLIENT_AUTH)
        return Credentials(_key_pem(key), cert)

    def sign_client(self, csr: str, client_id: str) -> str:
        """The certificate for a client's CSR, as PEM text; CsrError if it is unusable.

        The subject is the client id whatever the CSR asks (the SDK always asks for
        ``lg_thinq``): the broker takes it as the client's identity, and lets it read
        only its own topic. ``csr`` is what the SDK sends (the base64 body without its
        armour lines) or a whole PEM request.
        """
        if client_id == PUBLISHER:
            raise CsrError(f"client id {PUBLISHER!r} is the sandbox's own")
        request = _load_csr(csr)
        try:
            valid = request.is_signature_valid
            public_key = request.public_key()
        except (UnsupportedAlgorithm, InvalidSignature, ValueError) as exc:
            raise CsrError(f"the CSR's key or signature is unusable: {exc}") from exc
        if not valid:
            raise CsrError("the CSR's signature does not match its key")
        cert = self._issue(public_key, client_id, ExtendedKeyUsageOID.CLIENT_AUTH)
        return cert.decode("ascii")


def _load_csr(text: str) -> x509.CertificateSigningRequest:
    body = text.strip()
    if not body:
        raise CsrError("the CSR is empty")
    if "-----BEGIN" in body:
        pem = body.encode("ascii", "replace")
    else:
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CsrError(f"the CSR is neither PEM nor base64: {exc}") from exc
        pem = (
            f"-----BEGIN {_CSR_ARMOUR}-----\n"
            + base64.encodebytes(der).decode("ascii")
            + f"-----END {_CSR_ARMOUR}-----\n"
        ).encode("ascii")
    try:
        return x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise CsrError(f"not a PKCS#10 certificate signing request: {exc}") from exc
