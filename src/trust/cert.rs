//! Inspecting one certificate for display and for the policy checks webpki does not do
//! (the leaf's code-signing EKU). Uses x509-parser; never decides trust on its own.
//!
//! OWNER: helper "crypto" (replace this stub).

use time::OffsetDateTime;

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
    let _ = der;
    Err(CertError::Malformed("not implemented yet".into()))
}
