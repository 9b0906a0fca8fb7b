//! Path building from the signer to a stored anchor (CONTRACT §2), with rustls-webpki.
//!
//! OWNER: helper "crypto" (replace this stub). See the interface below.

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::trust::{Anchor, AnchorState, Fingerprint};

/// Everything path building needs; no I/O, time comes in.
pub struct ChainInput<'a> {
    /// The certificate whose key made the signature.
    pub leaf: &'a CertificateDer<'static>,
    /// Every other certificate the package carries (CMS certificates, certs/, chain.pem).
    pub pool: &'a [CertificateDer<'static>],
    /// Every stored anchor (approved, candidate and revoked), with or without DER.
    pub anchors: &'a [Anchor],
    pub at: UnixTime,
}

/// Why a chain was refused. Comparable, so tests can assert the exact reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error("certificate {subject} expired at {not_after}")]
    Expired { subject: String, not_after: String },
    #[error("certificate {subject} is not valid before {not_before}")]
    NotYetValid { subject: String, not_before: String },
    #[error("the signer's extended key usage does not include code signing")]
    LeafNotForCodeSigning,
    #[error("an issuer in the chain is not a CA (basicConstraints)")]
    IssuerNotCa,
    #[error("the chain violates a path-length constraint")]
    PathLenExceeded,
    #[error("certificate {fingerprint} on the chain is revoked")]
    Revoked { fingerprint: Fingerprint },
    #[error("a certificate uses a refused signature algorithm: {0}")]
    WeakAlgorithm(String),
    #[error("malformed certificate: {0}")]
    Malformed(String),
    #[error("chain validation failed: {0}")]
    Other(String),
}

/// The result of path building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainOutcome {
    /// A path reached a stored anchor that is `Approved` or `Candidate` (the best
    /// reachable: approved before candidate), with no revoked certificate on it.
    Reached {
        state: AnchorState,
        anchor: Fingerprint,
        /// From the leaf towards the anchor; ends with the anchor's certificate when
        /// its DER is known (or the package certificate that matched a fingerprint-only
        /// anchor).
        path: Vec<CertificateDer<'static>>,
    },
    /// No stored anchor is reachable, and nothing else is wrong with the chain that
    /// could be judged without an anchor.
    NoAnchor,
    /// The chain is refused (expired, not a CA, revoked anchor on the only path...).
    Invalid {
        error: ChainError,
        /// The best partial path known, leaf first (at least the leaf).
        path: Vec<CertificateDer<'static>>,
    },
}

pub fn build_chain(input: &ChainInput<'_>) -> ChainOutcome {
    ChainOutcome::Invalid {
        error: ChainError::Other("not implemented yet".into()),
        path: vec![input.leaf.clone()],
    }
}
