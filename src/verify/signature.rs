//! Signature checks over the manifest (or a detached file): CMS/PKCS#7 SignedData as
//! `openssl cms -sign -binary` writes it (DER or PEM) and raw signatures as
//! `openssl dgst -sign` / `openssl pkeyutl -sign -rawin` write them (CONTRACT §3).
//!
//! OWNER: helper "signature" (replace this stub). See the interface below.

use std::path::Path;

use rustls_pki_types::CertificateDer;

/// What was signed.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// Small content held in memory (a manifest).
    Bytes(&'a [u8]),
    /// A file of any size: streamed, never held whole in memory.
    File(&'a Path),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("refused digest or signature algorithm {0}: MD5 and SHA-1 are not accepted")]
    WeakAlgorithm(String),
    #[error("unsupported signature algorithm {0}")]
    Unsupported(String),
    #[error("no certificate in the package matches the signer")]
    SignerNotFound,
    #[error("the signed messageDigest does not match the content: the manifest was altered after signing")]
    DigestMismatch,
    #[error("the signature does not verify with the signer's key")]
    BadSignature,
    #[error("cannot read the signed content: {0}")]
    Io(String),
}

/// The outcome of one signature check. `signer` and `certificates` are filled as far as
/// they could be read even when the check fails, so a report can still name the key.
#[derive(Debug, Clone)]
pub struct SignatureCheck {
    pub signer: Option<CertificateDer<'static>>,
    /// Certificates carried inside the signature (CMS `certificates`).
    pub certificates: Vec<CertificateDer<'static>>,
    /// On success, a display name of the algorithm, e.g. `ECDSA P-256 with SHA-256`.
    pub outcome: Result<String, SignatureError>,
}

/// Verify a CMS/PKCS#7 detached signature (DER or PEM) over `content`. The signer is
/// looked up among the CMS certificates and `extra_certs`.
pub fn verify_cms(
    signature: &[u8],
    content: Content<'_>,
    extra_certs: &[CertificateDer<'static>],
) -> SignatureCheck {
    let _ = (signature, content, extra_certs);
    SignatureCheck {
        signer: None,
        certificates: Vec::new(),
        outcome: Err(SignatureError::Unsupported("not implemented yet".into())),
    }
}

/// Verify a raw signature over `content`; the signer is whichever of `certs` verifies it.
pub fn verify_raw(
    signature: &[u8],
    content: Content<'_>,
    certs: &[CertificateDer<'static>],
) -> SignatureCheck {
    let _ = (signature, content, certs);
    SignatureCheck {
        signer: None,
        certificates: Vec::new(),
        outcome: Err(SignatureError::Unsupported("not implemented yet".into())),
    }
}
