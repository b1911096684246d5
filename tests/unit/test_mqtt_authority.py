"""The sandbox's certificate authority: it signs CSRs as LG's SDK sends them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mockserver.mqtt.authority import PUBLISHER, Authority, CsrError


def sdk_csr() -> str:
    """A CSR made by the SDK's own code (ThinQMQTTClient.generate_csr)."""
    from thinqconnect.mqtt_client import ThinQMQTTClient

    client = ThinQMQTTClient(None, "unit-client", lambda *a, **k: None)

    async def root(timeout: int = 15) -> str:
        return "unused"

    client._get_root_certificate = root
    assert asyncio.run(client.generate_csr())
    return client.csr_str


def test_a_csr_as_the_sdk_sends_it_is_signed_for_the_client_id():
    authority = Authority.create()
    pem = authority.sign_client(sdk_csr(), "unit-client")
    cert = x509.load_pem_x509_certificate(pem.encode())
    cert.verify_directly_issued_by(authority.cert)
    # The SDK asks for CN=lg_thinq; the broker needs each client's own identity.
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "unit-client"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize(
    ("csr", "reason"),
    [
        ("", "empty"),
        ("not base64 at all!", "neither PEM nor base64"),
        ("aGVsbG8gd29ybGQ=", "not a PKCS#10"),
        ("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----", "PKCS#10"),
    ],
)
def test_an_unusable_csr_is_refused_saying_why(csr: str, reason: str):
    with pytest.raises(CsrError, match=reason):
        Authority.create().sign_client(csr, "unit-client")


def test_the_publishers_identity_is_not_given_to_a_client():
    with pytest.raises(CsrError, match=PUBLISHER):
        Authority.create().sign_client(sdk_csr(), PUBLISHER)


def test_the_authority_is_kept_in_its_folder(tmp_path: Path):
    first = Authority.kept_in(tmp_path / "ca")
    again = Authority.kept_in(tmp_path / "ca")
    assert again.ca_pem == first.ca_pem
    assert (tmp_path / "ca" / "ca.key").stat().st_mode & 0o077 == 0
    server = again.server_credentials("127.0.0.9")
    cert = x509.load_pem_x509_certificate(server.cert_pem)
    cert.verify_directly_issued_by(first.cert)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.9"]
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
