//! Inspecting one certificate for display and for the policy checks webpki does not do
//! (the leaf's code-signing EKU). Uses x509-parser; never decides trust on its own.
//!
//! Invariants: [`inspect`] reads any byte string without panicking; it fails on input
//! that is not exactly one X.509 certificate (trailing bytes included) and on duplicate
//! or malformed extensions it reports (basicConstraints, EKU), since policy checks must
//! not guess.

use time::OffsetDateTime;
// x509-parser: read-only X.509 inspection (names, extensions, keys). Path validation is
// rustls-webpki's job (see `verify::chain`); nothing here is a trust decision.
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::Oid;
use x509_parser::public_key::PublicKey;

use super::Fingerprint;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("malformed certificate: {0}")]
    Malformed(String),
}

/// What a person (and our leaf policy) needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// RFC 4514-style display, e.g. `CN=DTEN Code Signing CA 2026, O=DTEN`.
    pub subject: String,
    pub issuer: String,
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    /// SHA-256 over the DER certificate.
    pub sha256: Fingerprint,
    /// SHA-256 over the DER SubjectPublicKeyInfo.
    pub spki_sha256: Fingerprint,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// basicConstraints cA.
    pub is_ca: bool,
    pub path_len: Option<u32>,
    /// Whether an extendedKeyUsage extension is present at all.
    pub has_eku: bool,
    /// Whether that extension lists id-kp-codeSigning.
    pub code_signing: bool,
    /// EKU names for display (`codeSigning`, `serverAuth`, dotted OIDs for others).
    pub ekus: Vec<String>,
    /// subject == issuer.
    pub self_issued: bool,
    /// e.g. `RSA 2048`, `ECDSA P-256`, `Ed25519`.
    pub key: String,
    /// e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA384`.
    pub signature_algorithm: String,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
}

/// Inspect a DER certificate.
pub fn inspect(der: &[u8]) -> Result<CertInfo, CertError> {
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((rest, _)) if !rest.is_empty() => {
            return Err(CertError::Malformed(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )))
        }
        Ok((_, cert)) => cert,
        Err(e) => return Err(CertError::Malformed(e.to_string())),
    };
    let malformed =
        |what: &str, e: &dyn std::fmt::Display| CertError::Malformed(format!("{what}: {e}"));

    let (is_ca, path_len) = match cert.basic_constraints() {
        Ok(Some(bc)) => (bc.value.ca, bc.value.path_len_constraint),
        Ok(None) => (false, None),
        Err(e) => return Err(malformed("basicConstraints", &e)),
    };
    let (has_eku, code_signing, ekus) = match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let e = eku.value;
            let mut names = Vec::new();
            for (flag, name) in [
                (e.any, "anyExtendedKeyUsage"),
                (e.server_auth, "serverAuth"),
                (e.client_auth, "clientAuth"),
                (e.code_signing, "codeSigning"),
                (e.email_protection, "emailProtection"),
                (e.time_stamping, "timeStamping"),
                (e.ocsp_signing, "OCSPSigning"),
            ] {
                if flag {
                    names.push(name.to_owned());
                }
            }
            names.extend(e.other.iter().map(Oid::to_id_string));
            (true, e.code_signing, names)
        }
        Ok(None) => (false, false, Vec::new()),
        Err(e) => return Err(malformed("extendedKeyUsage", &e)),
    };

    let mut subject_key_id = None;
    let mut authority_key_id = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(ki) => subject_key_id = Some(hex::encode(ki.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|ki| hex::encode(ki.0));
            }
            _ => {}
        }
    }

    let validity = cert.validity();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: serial_hex(cert.raw_serial()),
        sha256: Fingerprint::of(der),
        spki_sha256: Fingerprint::of(cert.public_key().raw),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        is_ca,
        path_len,
        has_eku,
        code_signing,
        ekus,
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        key: describe_key(&cert),
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
        subject_key_id,
        authority_key_id,
    })
}

/// The serial as OpenSSL prints it (`-serial`), in lowercase: the INTEGER's value
/// without the sign-padding zero bytes.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode(raw.get(start..).unwrap_or_default())
}

/// `RSA 2048`, `ECDSA P-256`, `ECDSA P-384`, `ECDSA P-521`, `Ed25519`, `Ed448`, or the
/// algorithm OID for anything else.
fn describe_key(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => format!("RSA {}", bit_length(rsa.modulus)),
            _ => "RSA (unreadable key)".to_owned(),
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| Oid::try_from(p).ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "ECDSA P-256".to_owned(),
                Some("1.3.132.0.34") => "ECDSA P-384".to_owned(),
                Some("1.3.132.0.35") => "ECDSA P-521".to_owned(),
                Some(other) => format!("ECDSA curve {other}"),
                None => "ECDSA (unnamed curve)".to_owned(),
            }
        }
        "1.3.101.112" => "Ed25519".to_owned(),
        "1.3.101.113" => "Ed448".to_owned(),
        "1.2.840.113549.1.1.10" => "RSA-PSS".to_owned(),
        other => other.to_owned(),
    }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes ignored).
fn bit_length(be: &[u8]) -> usize {
    match be.iter().position(|&b| b != 0) {
        Some(i) => {
            let first = be.get(i).copied().unwrap_or(0);
            (be.len() - i) * 8 - first.leading_zeros() as usize
        }
        None => 0,
    }
}

/// The registry's short name (`sha256WithRSAEncryption`), else the dotted OID.
fn oid_name(oid: &Oid<'_>) -> String {
    match x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry()) {
        Ok(name) => name.to_owned(),
        Err(_) => oid.to_id_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, SerialNumber,
    };

    fn params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::OrganizationName, "DTEN");
        p.distinguished_name.push(DnType::CommonName, cn);
        p
    }

    #[test]
    fn ca_and_code_signing_leaf() {
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut ca = params("DTEN Code Signing CA 2026");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.not_before = rcgen::date_time_ymd(2026, 1, 1);
        ca.not_after = rcgen::date_time_ymd(2036, 1, 1);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let info = inspect(ca_cert.der()).unwrap();
        assert!(info.is_ca && info.self_issued && !info.has_eku);
        assert_eq!(info.path_len, Some(0));
        assert_eq!(info.key, "ECDSA P-384");
        assert_eq!(info.signature_algorithm, "ecdsa-with-SHA384");
        assert_eq!(info.not_before, rcgen::date_time_ymd(2026, 1, 1));
        assert_eq!(info.sha256, Fingerprint::of(ca_cert.der()));
        assert!(
            info.subject.contains("CN=DTEN Code Signing CA 2026"),
            "{}",
            info.subject
        );
        assert!(info.subject_key_id.is_some());

        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let mut leaf = params("DTEN firmware signer");
        leaf.serial_number = Some(SerialNumber::from_slice(&[0x00, 0x9a, 0x01]));
        leaf.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::CodeSigning,
            ExtendedKeyUsagePurpose::Other(vec![1, 2, 3, 4]),
        ];
        leaf.use_authority_key_identifier_extension = true;
        let issuer = Issuer::from_params(&ca, &ca_key);
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
        let info = inspect(leaf_cert.der()).unwrap();
        assert!(!info.is_ca && !info.self_issued);
        assert!(info.has_eku && info.code_signing);
        assert_eq!(
            info.ekus,
            vec!["codeSigning".to_owned(), "1.2.3.4".to_owned()]
        );
        assert_eq!(info.key, "Ed25519");
        assert_eq!(info.serial, "9a01");
        assert_eq!(
            info.authority_key_id,
            inspect(ca_cert.der()).unwrap().subject_key_id
        );
        assert_eq!(
            info.spki_sha256,
            Fingerprint::of(
                x509_parser::parse_x509_certificate(leaf_cert.der())
                    .unwrap()
                    .1
                    .public_key()
                    .raw
            )
        );
    }

    #[test]
    fn server_auth_only_is_not_code_signing() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = params("web");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let info = inspect(p.self_signed(&key).unwrap().der()).unwrap();
        assert!(info.has_eku && !info.code_signing);
        assert_eq!(info.ekus, vec!["serverAuth".to_owned()]);
        assert_eq!(info.key, "ECDSA P-256");
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b""[..],
            b"\x30\x03\x02\x01\x01",
            b"\x30\x84\xff\xff\xff\xff",
            b"hello",
        ] {
            assert!(inspect(bad).is_err());
        }
    }

    #[test]
    fn corpus_isrg_root_x1() {
        let Some(der) = crate::trust::import::tests::corpus("certs/letsencrypt/isrgrootx1.der")
        else {
            return;
        };
        let info = inspect(&der).unwrap();
        assert_eq!(
            info.subject,
            "C=US, O=Internet Security Research Group, CN=ISRG Root X1"
        );
        assert_eq!(info.key, "RSA 4096");
        assert_eq!(info.signature_algorithm, "sha256WithRSAEncryption");
        assert_eq!(
            info.sha256.to_hex(),
            "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6"
        );
        assert_eq!(
            info.spki_sha256.to_hex(),
            "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3"
        );
        assert!(info.is_ca && info.self_issued);
        assert_eq!(info.serial, "8210cfb0d240e3594463e0bb63828b00");
        assert_eq!(info.not_after.year(), 2035);
    }

    #[test]
    fn corpus_certifi_inspects_cleanly() {
        let Some(pem) = crate::trust::import::tests::corpus("certs/certifi/cacert.pem") else {
            return;
        };
        for der in crate::trust::import::parse_certificates(&pem).unwrap() {
            let info = inspect(&der).unwrap();
            assert!(info.is_ca, "{}", info.subject);
            assert!(
                info.key.starts_with("RSA ") || info.key.starts_with("ECDSA P-"),
                "{}",
                info.key
            );
        }
    }
}
