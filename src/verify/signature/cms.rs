//! CMS/PKCS#7 detached signatures (RFC 5652) as `openssl cms -sign -binary` and
//! `openssl smime -sign` write them, DER or PEM. Parsing is the `cms` crate's (strict
//! DER); the checks are ours, in the order RFC 5652 §5.4–5.6 gives them:
//!
//! 1. ContentInfo is id-signedData; the content is detached and of type id-data.
//! 2. Exactly one SignerInfo (a package has one signer; several would let one of them
//!    vouch for another's chain).
//! 3. The signer certificate is found by IssuerAndSerialNumber or SubjectKeyIdentifier
//!    among the CMS certificates and the package's own.
//! 4. The content is digested with digestAlgorithm (SHA-256/384/512 only).
//! 5. With signedAttrs: exactly one messageDigest, equal to that digest, and contentType
//!    id-data; the signature covers the DER of signedAttrs re-encoded as a SET OF
//!    (tag 0x31), not the `[0]`-tagged bytes (§5.4). Without: the content itself.
//! 6. The signature verifies with the signer's key under signatureAlgorithm.

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::{Decode, Encode};
use rustls_pki_types::CertificateDer;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::Certificate;

use super::keys::{self, Scheme};
use super::{content_bytes, digest_content, Content, Hash, SignatureCheck, SignatureError};

const ID_DATA: &str = "1.2.840.113549.1.7.1";
const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ATTR_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const ATTR_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const SKI_EXT: &str = "2.5.29.14";

/// Map a digest algorithm OID; MD5 and SHA-1 are refused by name.
pub(crate) fn hash_of(oid: &str) -> Result<Hash, SignatureError> {
    match oid {
        "2.16.840.1.101.3.4.2.1" => Ok(Hash::Sha256),
        "2.16.840.1.101.3.4.2.2" => Ok(Hash::Sha384),
        "2.16.840.1.101.3.4.2.3" => Ok(Hash::Sha512),
        "1.3.14.3.2.26" => Err(SignatureError::WeakAlgorithm("SHA-1".into())),
        "1.2.840.113549.2.5" => Err(SignatureError::WeakAlgorithm("MD5".into())),
        other => Err(SignatureError::Unsupported(format!("digest {other}"))),
    }
}

/// The DER of the SignedData ContentInfo, from DER or PEM input.
fn der_of(signature: &[u8]) -> Result<Vec<u8>, SignatureError> {
    if signature.windows(11).any(|w| w == b"-----BEGIN ") {
        return crate::trust::import::pem_block(signature, &[b"CMS", b"PKCS7"])
            .map_err(|e| SignatureError::Malformed(e.to_string()))?
            .ok_or_else(|| SignatureError::Malformed("no CMS or PKCS7 PEM block".into()));
    }
    Ok(signature.to_vec())
}

fn parse(signature: &[u8]) -> Result<(SignedData, Vec<u8>), SignatureError> {
    let der = der_of(signature)?;
    let ci = ContentInfo::from_der(&der).map_err(|e| {
        // `30 80` opens an indefinite-length (BER) SEQUENCE, as `openssl cms -stream`
        // writes. Asked of the decoder, not of the bytes: `a0 80` inside a length or a
        // value is no BER, and naming -stream for it sent people the wrong way.
        if e.kind() == der::ErrorKind::IndefiniteLength {
            SignatureError::Malformed(
                "the signature uses indefinite-length (BER) encoding; sign without -stream \
                 (openssl cms -sign -binary -outform DER)"
                    .into(),
            )
        } else {
            SignatureError::Malformed(format!("not a CMS/PKCS#7 structure: {e}"))
        }
    })?;
    if ci.content_type.to_string() != ID_SIGNED_DATA {
        return Err(SignatureError::Malformed(format!(
            "CMS content type {} is not signedData",
            ci.content_type
        )));
    }
    let sd = ci
        .content
        .decode_as::<SignedData>()
        .map_err(|e| SignatureError::Malformed(format!("CMS SignedData: {e}")))?;
    Ok((sd, der))
}

/// The certificates the signature carries, byte for byte as written (re-encoding a
/// decoded SET OF could reorder them or change their bytes, and so their fingerprints).
fn certificates_of(der: &[u8]) -> Vec<CertificateDer<'static>> {
    crate::trust::import::signed_data_certificates(der)
        .map(|v| v.into_iter().map(CertificateDer::from).collect())
        .unwrap_or_default()
}

/// The first SignerInfo's signed attributes exactly as they stand in the input, with
/// their `[0] IMPLICIT` tag replaced by SET OF (RFC 5652 §5.4). Not re-encoded: `der`
/// sorts a SET OF when it decodes, so re-encoding would change the bytes a signer that
/// does not sort its attributes actually signed. Called only after the typed parse
/// succeeded, so the shape is known.
fn raw_signed_attrs(der: &[u8]) -> der::Result<Option<Vec<u8>>> {
    use der::asn1::AnyRef;
    use der::{Reader, SliceReader, Tag, TagNumber, Tagged};
    let ctx = |number| Tag::ContextSpecific {
        constructed: true,
        number,
    };
    let info = AnyRef::from_der(der)?;
    let mut r = SliceReader::new(info.value())?;
    let _content_type = AnyRef::decode(&mut r)?;
    let explicit = AnyRef::decode(&mut r)?;
    let signed = AnyRef::from_der(explicit.value())?;
    let mut r = SliceReader::new(signed.value())?;
    let _version = AnyRef::decode(&mut r)?;
    let _digest_algorithms = AnyRef::decode(&mut r)?;
    let _encap = AnyRef::decode(&mut r)?;
    let mut next = AnyRef::decode(&mut r)?;
    if next.tag() == ctx(TagNumber::N0) {
        next = AnyRef::decode(&mut r)?; // certificates
    }
    if next.tag() == ctx(TagNumber::N1) {
        next = AnyRef::decode(&mut r)?; // crls
    }
    let mut infos = SliceReader::new(next.value())?;
    let first = AnyRef::decode(&mut infos)?;
    let mut r = SliceReader::new(first.value())?;
    let _version = AnyRef::decode(&mut r)?;
    let _sid = AnyRef::decode(&mut r)?;
    let _digest_algorithm = AnyRef::decode(&mut r)?;
    if r.is_finished() {
        return Ok(None);
    }
    let attrs = AnyRef::decode(&mut r)?;
    if attrs.tag() == ctx(TagNumber::N0) {
        Ok(Some(AnyRef::new(Tag::Set, attrs.value())?.to_der()?))
    } else {
        Ok(None)
    }
}

/// Whether `cert_der` is the certificate `sid` names.
fn matches(sid: &SignerIdentifier, cert_der: &[u8]) -> bool {
    let Ok(cert) = Certificate::from_der(cert_der) else {
        return false;
    };
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            cert.tbs_certificate.issuer == isn.issuer
                && cert.tbs_certificate.serial_number == isn.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id.to_string() == SKI_EXT)
            .any(|e| {
                SubjectKeyIdentifier::from_der(e.extn_value.as_bytes())
                    .is_ok_and(|k| k.0.as_bytes() == ski.0.as_bytes())
            }),
    }
}

/// Verify a CMS/PKCS#7 detached signature (DER or PEM) over `content`. The signer is
/// looked up among the CMS certificates and `extra_certs`.
pub fn verify_cms(
    signature: &[u8],
    content: Content<'_>,
    extra_certs: &[CertificateDer<'static>],
) -> SignatureCheck {
    let mut check = SignatureCheck {
        signer: None,
        certificates: Vec::new(),
        outcome: Err(SignatureError::SignerNotFound),
    };
    let (sd, der) = match parse(signature) {
        Ok(parsed) => parsed,
        Err(e) => {
            check.outcome = Err(e);
            return check;
        }
    };
    check.certificates = certificates_of(&der);
    let infos: Vec<&SignerInfo> = sd.signer_infos.0.iter().collect();
    let [info] = infos.as_slice() else {
        check.outcome = Err(SignatureError::Malformed(format!(
            "{} SignerInfos; a package signature has exactly one",
            infos.len()
        )));
        return check;
    };
    check.signer = check
        .certificates
        .iter()
        .chain(extra_certs)
        .find(|c| matches(&info.sid, c))
        .cloned();
    let raw_attrs = raw_signed_attrs(&der).ok().flatten();
    check.outcome = verify_signed_data(&sd, info, raw_attrs, check.signer.as_ref(), content);
    check
}

fn verify_signed_data(
    sd: &SignedData,
    info: &SignerInfo,
    raw_attrs: Option<Vec<u8>>,
    signer: Option<&CertificateDer<'static>>,
    content: Content<'_>,
) -> Result<String, SignatureError> {
    if sd.encap_content_info.econtent_type.to_string() != ID_DATA {
        return Err(SignatureError::Malformed(format!(
            "signed content type {} is not id-data",
            sd.encap_content_info.econtent_type
        )));
    }
    if sd.encap_content_info.econtent.is_some() {
        return Err(SignatureError::Malformed(
            "the signature embeds its content; a detached signature over the manifest is \
             expected (openssl cms -sign -binary without -nodetach)"
                .into(),
        ));
    }
    let hash = hash_of(&info.digest_alg.oid.to_string())?;
    let (scheme, scheme_hash) = scheme_of(info, hash)?;
    let signer = signer.ok_or(SignatureError::SignerNotFound)?;
    let key = keys::public_key(signer)?;
    let sig = info.signature.as_bytes();

    match &info.signed_attrs {
        Some(attrs) => {
            let digest = digest_content(content, &[hash])?.pop().unwrap_or_default();
            let mut digests = attrs
                .iter()
                .filter(|a| a.oid.to_string() == ATTR_MESSAGE_DIGEST)
                .flat_map(|a| a.values.iter());
            let (Some(md), None) = (digests.next(), digests.next()) else {
                return Err(SignatureError::Malformed(
                    "signed attributes must hold exactly one messageDigest".into(),
                ));
            };
            let md = md
                .decode_as::<der::asn1::OctetString>()
                .map_err(|e| SignatureError::Malformed(format!("messageDigest: {e}")))?;
            let content_type_ok = attrs
                .iter()
                .filter(|a| a.oid.to_string() == ATTR_CONTENT_TYPE)
                .flat_map(|a| a.values.iter())
                .any(|v| {
                    v.decode_as::<der::asn1::ObjectIdentifier>()
                        .is_ok_and(|o| o.to_string() == ID_DATA)
                });
            if !content_type_ok {
                return Err(SignatureError::Malformed(
                    "signed attributes lack contentType id-data".into(),
                ));
            }
            if md.as_bytes() != digest.as_slice() {
                return Err(SignatureError::DigestMismatch);
            }
            let signed = match raw_attrs {
                Some(raw) => raw,
                None => attrs
                    .to_der()
                    .map_err(|e| SignatureError::Malformed(format!("signed attributes: {e}")))?,
            };
            if scheme == Scheme::Ed25519 {
                keys::verify_ed25519(&key, &signed, sig)?;
            } else {
                keys::verify_prehash(&key, scheme, scheme_hash, &scheme_hash.digest(&signed), sig)?;
            }
        }
        None => {
            if scheme == Scheme::Ed25519 {
                keys::verify_ed25519(&key, &content_bytes(content)?, sig)?;
            } else {
                let digest = digest_content(content, &[scheme_hash])?
                    .pop()
                    .unwrap_or_default();
                keys::verify_prehash(&key, scheme, scheme_hash, &digest, sig)?;
            }
        }
    }
    Ok(keys::describe(&key, scheme, scheme_hash))
}

/// The signature scheme and its hash from signatureAlgorithm (and digestAlgorithm).
fn scheme_of(info: &SignerInfo, digest: Hash) -> Result<(Scheme, Hash), SignatureError> {
    let oid = info.signature_algorithm.oid.to_string();
    let weak = |name: &str| Err(SignatureError::WeakAlgorithm(name.into()));
    match oid.as_str() {
        // rsaEncryption: OpenSSL's choice; the hash is digestAlgorithm's.
        "1.2.840.113549.1.1.1" => Ok((Scheme::Pkcs1, digest)),
        "1.2.840.113549.1.1.11" => Ok((Scheme::Pkcs1, Hash::Sha256)),
        "1.2.840.113549.1.1.12" => Ok((Scheme::Pkcs1, Hash::Sha384)),
        "1.2.840.113549.1.1.13" => Ok((Scheme::Pkcs1, Hash::Sha512)),
        "1.2.840.113549.1.1.5" => weak("sha1WithRSAEncryption"),
        "1.2.840.113549.1.1.4" => weak("md5WithRSAEncryption"),
        "1.2.840.113549.1.1.10" => pss_params(info, digest),
        "1.2.840.10045.2.1" => Ok((Scheme::Ecdsa, digest)),
        "1.2.840.10045.4.3.2" => Ok((Scheme::Ecdsa, Hash::Sha256)),
        "1.2.840.10045.4.3.3" => Ok((Scheme::Ecdsa, Hash::Sha384)),
        "1.2.840.10045.4.3.4" => Ok((Scheme::Ecdsa, Hash::Sha512)),
        "1.2.840.10045.4.1" => weak("ecdsa-with-SHA1"),
        "1.3.101.112" => Ok((Scheme::Ed25519, digest)),
        other => Err(SignatureError::Unsupported(other.into())),
    }
}

/// RSASSA-PSS-params (RFC 4055 §3.1): the hash must be digestAlgorithm's, MGF1 with the
/// same hash, trailer field 1; the salt length is whatever the parameters declare.
fn pss_params(info: &SignerInfo, digest: Hash) -> Result<(Scheme, Hash), SignatureError> {
    let params = info
        .signature_algorithm
        .parameters
        .as_ref()
        .ok_or_else(|| SignatureError::Malformed("RSASSA-PSS without parameters".into()))?;
    let der = params
        .to_der()
        .map_err(|e| SignatureError::Malformed(format!("RSASSA-PSS parameters: {e}")))?;
    // x509-parser's RsaSsaPssParams takes any salt length (the pkcs1 crate's stops at 255,
    // below OpenSSL's default for 4096-bit keys).
    use x509_parser::der_parser::asn1_rs::{Any, FromDer};
    let bad = |e: &dyn std::fmt::Display| {
        SignatureError::Malformed(format!("RSASSA-PSS parameters: {e}"))
    };
    let (_, any) = Any::from_der(&der).map_err(|e| bad(&e))?;
    let p =
        x509_parser::signature_algorithm::RsaSsaPssParams::try_from(&any).map_err(|e| bad(&e))?;
    let hash = hash_of(&p.hash_algorithm_oid().to_id_string())?;
    let mgf = p.mask_gen_algorithm().map_err(|e| bad(&e))?;
    if hash != digest
        || hash_of(&mgf.hash.to_id_string())? != hash
        || mgf.mgf.to_id_string() != "1.2.840.113549.1.1.8"
        || p.trailer_field() != 1
    {
        return Err(SignatureError::Malformed(
            "RSASSA-PSS hash, MGF1 hash and digestAlgorithm disagree".into(),
        ));
    }
    let salt = usize::try_from(p.salt_length()).map_err(|e| bad(&e))?;
    Ok((Scheme::Pss { salt }, hash))
}
