//! Reading certificates out of files: PEM (one or many `CERTIFICATE` blocks, and
//! `PKCS7`/`CMS` blocks), a single DER certificate, or a DER PKCS#7/CMS bundle
//! (`.p7b`). Input is hostile: every error is a value, nothing panics.
//!
//! OWNER: helper "crypto" (replace this stub).

use rustls_pki_types::CertificateDer;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("no certificate found: expected PEM CERTIFICATE/PKCS7 blocks, a DER certificate or a DER PKCS#7 bundle")]
    NoCertificates,
    #[error("malformed certificate data: {0}")]
    Malformed(String),
}

/// Every certificate in `data`, in file order, as DER.
pub fn parse_certificates(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, ImportError> {
    let _ = data;
    Err(ImportError::NoCertificates)
}
