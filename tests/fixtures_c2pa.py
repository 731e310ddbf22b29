"""Content Credentials made at test time: a throw-away CA, a signer, signed and tampered JPEGs.

Nothing here is a stored key or a downloaded fixture: every run makes a fresh P-256 root CA
and an end-entity signing certificate with the key usages C2PA requires of a signer
(digitalSignature, an allowed extended key usage such as emailProtection, not a CA), then
signs with c2pa-python's Builder without a time-stamp authority (that would be a network call).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from media_factory import image_bytes

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
COMPOSITE_AI = IPTC + "compositeWithTrainedAlgorithmicMedia"
CAPTURE = IPTC + "digitalCapture"


@dataclass(frozen=True)
class SigningPki:
    ca_pem: bytes  # the root: what an operator configures as a trust anchor
    chain_pem: bytes  # signer certificate followed by the root, as the manifest carries it
    key_pem: bytes  # the signer's private key (PKCS#8)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "US")])


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signer, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=not signer, crl_sign=not signer, encipher_only=False,
                         decipher_only=False)


def make_pki(signer_cn: str = "Deepscreen Test Signer",
             signer_org: str = "Deepscreen Test Studio") -> SigningPki:
    """A fresh root CA and an ES256 signing certificate it issued, valid for a month."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Deepscreen Test Root CA", "Deepscreen Test CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(_key_usage(signer=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(signer_cn, signer_org))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signer=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return SigningPki(
        ca_pem=ca.public_bytes(pem),
        chain_pem=cert.public_bytes(pem) + ca.public_bytes(pem),
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
    )


def manifest_definition(actions: list[dict[str, Any]], title: str = "test") -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "deepscreen-tests", "version": "1"}],
        "title": title,
        "format": "image/jpeg",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }


def created_action(source_type: str = TRAINED, agent: str = "Test Generator") -> dict[str, Any]:
    return {"action": "c2pa.created", "digitalSourceType": source_type,
            "softwareAgent": {"name": agent, "version": "1.0"}}


def sign_media(pki: SigningPki, actions: list[dict[str, Any]] | None = None,
               source: bytes | None = None, mime: str = "image/jpeg",
               remote_url: str | None = None) -> bytes:
    """Sign ``source`` (a fresh 128x96 JPEG texture by default) and return the signed bytes.

    With ``remote_url`` the manifest is not embedded: the file only carries a link to it, as a
    cloud-hosted manifest would.
    """
    source = source if source is not None else image_bytes("JPEG", 128, 96, seed=7)
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256,
                                                       pki.chain_pem, pki.key_pem, None))
    definition = manifest_definition(actions or [created_action()])
    definition["format"] = mime
    builder = c2pa.Builder.from_json(definition)
    if remote_url is not None:
        builder.set_no_embed()
        builder.set_remote_url(remote_url)
    out = io.BytesIO()
    builder.sign(signer, mime, io.BytesIO(source), out)
    return out.getvalue()


def tamper_pixels(jpeg: bytes) -> bytes:
    """Flip one bit in the compressed picture data, leaving headers and the manifest intact."""
    scan_start = jpeg.rindex(b"\xff\xda")  # start of scan: entropy-coded data follows
    end = jpeg.rindex(b"\xff\xd9")
    data = bytearray(jpeg)
    for position in range((scan_start + end) // 2, end):
        # 0xFF bytes are markers or stuffing; changing them breaks the stream, not the pixels.
        if data[position] not in (0xFF, 0xFE) and data[position - 1] != 0xFF:
            data[position] ^= 0x01
            return bytes(data)
    raise ValueError("no scan byte to change")
