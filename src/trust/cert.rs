//! Inspecting one certificate for display and for the policy checks webpki does not do
//! (the leaf's code-signing EKU). Uses x509-parser, a display and inspection parser: it
//! never decides trust on its own (rustls-webpki does, in `verify::chain`).

use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_SIG_ED25519,
};
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

fn time_of(t: x509_parser::time::ASN1Time) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Inspect a DER certificate.
pub fn inspect(der: &[u8]) -> Result<CertInfo, CertError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CertError::Malformed(e.to_string()))?;
    let malformed = |e: x509_parser::error::X509Error| CertError::Malformed(e.to_string());
    let bc = cert.basic_constraints().map_err(malformed)?;
    let eku = cert.extended_key_usage().map_err(malformed)?;
    let mut ekus = Vec::new();
    if let Some(e) = &eku {
        let v = e.value;
        for (on, name) in [
            (v.any, "anyExtendedKeyUsage"),
            (v.server_auth, "serverAuth"),
            (v.client_auth, "clientAuth"),
            (v.code_signing, "codeSigning"),
            (v.email_protection, "emailProtection"),
            (v.time_stamping, "timeStamping"),
            (v.ocsp_signing, "OCSPSigning"),
        ] {
            if on {
                ekus.push(name.to_owned());
            }
        }
        ekus.extend(v.other.iter().map(ToString::to_string));
    }
    let spki = cert.public_key();
    let key = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(_)) if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve {
                Some(c) if c == OID_EC_P256 => "ECDSA P-256".to_owned(),
                Some(c) if c == OID_NIST_EC_P384 => "ECDSA P-384".to_owned(),
                Some(c) => format!("ECDSA {c}"),
                None => "ECDSA (unknown curve)".to_owned(),
            }
        }
        _ if spki.algorithm.algorithm == OID_SIG_ED25519 => "Ed25519".to_owned(),
        _ => format!("key {}", spki.algorithm.algorithm),
    };
    let registry = x509_parser::objects::oid_registry();
    let sig_oid = &cert.signature_algorithm.algorithm;
    let signature_algorithm = x509_parser::objects::oid2sn(sig_oid, registry)
        .map_or_else(|_| sig_oid.to_string(), str::to_owned);
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    for ext in cert.iter_extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => subject_key_id = Some(hex::encode(k.0)),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                authority_key_id = a.key_identifier.as_ref().map(|k| hex::encode(k.0));
            }
            _ => {}
        }
    }
    let validity = cert.validity();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex::encode(cert.raw_serial()),
        sha256: Fingerprint::of(der),
        spki_sha256: Fingerprint::of(spki.raw),
        not_before: time_of(validity.not_before),
        not_after: time_of(validity.not_after),
        is_ca: bc.as_ref().is_some_and(|b| b.value.ca),
        path_len: bc.as_ref().and_then(|b| b.value.path_len_constraint),
        has_eku: eku.is_some(),
        code_signing: eku.as_ref().is_some_and(|e| e.value.code_signing),
        ekus,
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        key,
        signature_algorithm,
        subject_key_id,
        authority_key_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspects_a_corpus_root() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/certs/letsencrypt/isrgrootx1.der"
        );
        let Ok(der) = std::fs::read(p) else {
            eprintln!("corpus absent: skipped");
            return;
        };
        let info = inspect(&der).unwrap();
        assert!(info.subject.contains("ISRG Root X1"), "{}", info.subject);
        assert!(info.is_ca && info.self_issued);
        assert_eq!(info.key, "RSA 4096");
        assert_eq!(
            info.sha256.to_hex(),
            "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6"
        );
        assert!(!info.has_eku);
        assert_eq!(info.not_before.year(), 2015);
    }

    #[test]
    fn rcgen_leaf_fields() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Signer");
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::CodeSigning,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).unwrap();
        let info = inspect(cert.der()).unwrap();
        assert_eq!(info.key, "ECDSA P-384");
        assert!(info.has_eku && info.code_signing);
        assert_eq!(info.ekus, vec!["serverAuth", "codeSigning"]);
        assert!(info.subject.contains("CN=Signer"));
        assert_eq!(info.signature_algorithm, "ecdsa-with-SHA384");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(inspect(b"").is_err());
        assert!(inspect(b"\x30\x03\x02\x01\x00").is_err());
    }
}
