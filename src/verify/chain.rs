//! Path building from the signer to a stored anchor (CONTRACT §2).
//!
//! The decision is rustls-webpki's: it builds paths through the package's certificates
//! (cross-signed ones included), with loop prevention and budgets, and checks validity
//! at the given time, basicConstraints cA, pathLenConstraint, name constraints, unknown
//! critical extensions and signature algorithms (no MD5, no SHA-1, RSA ≥ 2048). We chose
//! it over hand-written validation because it is maintained, fuzzed and tested against
//! x509-limbo; x509-parser does no path building at all.
//!
//! Two policies webpki does not express are added here:
//! - EKU: webpki checks the required EKU on *every* certificate of the path (EKU
//!   chaining), so `KeyUsage::required(codeSigning)` would refuse intermediates without
//!   an EKU extension. We pass `required_if_present(codeSigning)` to webpki and require
//!   separately (x509-parser) that the leaf *has* an EKU extension naming codeSigning.
//! - Anchor states: approved anchors are tried before candidates; a path that contains a
//!   revoked certificate is refused in webpki's path callback, so webpki keeps looking
//!   for a clean path; an anchor known by fingerprint alone becomes a webpki trust anchor
//!   when a package certificate has that fingerprint.

use std::cell::Cell;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter, KeyUsage, VerifiedPath};

use crate::trust::{cert, Anchor, AnchorState, Fingerprint};

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER content bytes as webpki wants them.
pub const CODE_SIGNING_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// Most certificates taken from one package for path building. A package needs a leaf,
/// a few intermediates and perhaps cross-signatures; more only feeds an attacker's
/// path-building blow-up (webpki's own budget stops it too, this keeps memory small).
pub const MAX_POOL: usize = 64;

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
        /// From the leaf towards the anchor; ends with the anchor's certificate.
        path: Vec<CertificateDer<'static>>,
    },
    /// No stored anchor is reachable, and nothing else is wrong with the chain that
    /// could be judged without an anchor. `path` is the package's own chain as far as
    /// issuer names link it (leaf first), for display and escalation only.
    NoAnchor { path: Vec<CertificateDer<'static>> },
    /// The chain is refused (expired, not a CA, revoked anchor on the only path...).
    Invalid {
        error: ChainError,
        /// The best partial path known, leaf first (at least the leaf).
        path: Vec<CertificateDer<'static>>,
    },
}

/// Which EKU webpki enforces along the path.
#[derive(Debug, Clone, Copy)]
pub enum EkuPolicy {
    /// `required_if_present(oid)` on every certificate (our code-signing policy uses
    /// codeSigning; the limbo harness uses the case's EKU).
    IfPresent(&'static [u8]),
    /// No EKU requirement at all.
    Off,
}

struct AnyEku;

impl ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, _iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// A successful webpki run: the intermediates used and which anchor (by index).
struct Found {
    intermediates: Vec<CertificateDer<'static>>,
    anchor_index: usize,
}

/// One webpki run. `reject` may refuse a built path (webpki then tries others).
fn run_webpki(
    leaf: &CertificateDer<'static>,
    intermediates: &[CertificateDer<'static>],
    anchors: &[TrustAnchor<'_>],
    at: UnixTime,
    eku: EkuPolicy,
    reject: &dyn Fn(&VerifiedPath<'_>) -> Result<(), webpki::Error>,
) -> Result<Found, webpki::Error> {
    let ee = EndEntityCert::try_from(leaf)?;
    let algs = webpki::ALL_VERIFICATION_ALGS;
    let path = match eku {
        EkuPolicy::IfPresent(oid) => ee.verify_for_usage(
            algs,
            anchors,
            intermediates,
            at,
            KeyUsage::required_if_present(oid),
            None,
            Some(reject),
        ),
        EkuPolicy::Off => {
            ee.verify_for_usage(algs, anchors, intermediates, at, AnyEku, None, Some(reject))
        }
    }?;
    let reached = path.anchor();
    let anchor_index = anchors
        .iter()
        .position(|a| {
            a.subject == reached.subject
                && a.subject_public_key_info == reached.subject_public_key_info
        })
        .unwrap_or(0);
    Ok(Found {
        intermediates: path
            .intermediate_certificates()
            .map(|c| CertificateDer::from(c.der().to_vec()))
            .collect(),
        anchor_index,
    })
}

/// webpki treats a trust anchor as a name and a key and never looks at its validity
/// dates; CONTRACT §2 wants every certificate valid at the verification time, so an
/// anchor whose certificate has expired (or is not yet valid) is refused here.
fn anchor_validity(anchor_der: &CertificateDer<'static>, at: UnixTime) -> Result<(), ChainError> {
    let Ok(info) = cert::inspect(anchor_der) else {
        return Ok(()); // webpki already accepted it as an anchor; nothing to date
    };
    let at = i64::try_from(at.as_secs()).unwrap_or(i64::MAX);
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string())
    };
    if info.not_after.unix_timestamp() < at {
        return Err(ChainError::Expired {
            subject: info.subject,
            not_after: rfc3339(info.not_after),
        });
    }
    if info.not_before.unix_timestamp() > at {
        return Err(ChainError::NotYetValid {
            subject: info.subject,
            not_before: rfc3339(info.not_before),
        });
    }
    Ok(())
}

/// Validate a path from `leaf` to any of `anchors_der` (the limbo harness and the
/// package's own-chain check use this directly).
pub fn validate_path(
    leaf: &CertificateDer<'static>,
    intermediates: &[CertificateDer<'static>],
    anchors_der: &[CertificateDer<'static>],
    at: UnixTime,
    eku: EkuPolicy,
) -> Result<(), ChainError> {
    let usable: Vec<&CertificateDer<'static>> = anchors_der
        .iter()
        .filter(|d| webpki::anchor_from_trusted_cert(d).is_ok())
        .collect();
    let anchors: Vec<TrustAnchor<'_>> = usable
        .iter()
        .filter_map(|d| webpki::anchor_from_trusted_cert(d).ok())
        .collect();
    let mut all = vec![leaf.clone()];
    all.extend(intermediates.iter().cloned());
    let found = run_webpki(leaf, intermediates, &anchors, at, eku, &|_| Ok(()))
        .map_err(|e| map_error(&e, &all))?;
    match usable.get(found.anchor_index) {
        Some(der) => anchor_validity(der, at),
        None => Ok(()),
    }
}

fn fmt_unix(t: UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// The subject of the certificate among `certs` whose notBefore/notAfter is `when`.
fn subject_with(certs: &[CertificateDer<'static>], when: UnixTime, after: bool) -> String {
    let target = i64::try_from(when.as_secs()).unwrap_or(i64::MAX);
    certs
        .iter()
        .filter_map(|d| cert::inspect(d).ok())
        .find(|i| {
            let t = if after { i.not_after } else { i.not_before };
            t.unix_timestamp() == target
        })
        .map_or_else(|| "(a certificate on the chain)".to_owned(), |i| i.subject)
}

fn map_error(e: &webpki::Error, certs: &[CertificateDer<'static>]) -> ChainError {
    use webpki::Error as W;
    match e {
        W::CertExpired { not_after, .. } => ChainError::Expired {
            subject: subject_with(certs, *not_after, true),
            not_after: fmt_unix(*not_after),
        },
        W::CertNotValidYet { not_before, .. } => ChainError::NotYetValid {
            subject: subject_with(certs, *not_before, false),
            not_before: fmt_unix(*not_before),
        },
        W::CaUsedAsEndEntity | W::EndEntityUsedAsCa => ChainError::IssuerNotCa,
        W::PathLenConstraintViolated => ChainError::PathLenExceeded,
        W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            ChainError::WeakAlgorithm(format!("{e:?}"))
        }
        W::BadDer | W::BadDerTime | W::TrailingData(_) | W::MalformedExtensions => {
            ChainError::Malformed(format!("{e:?}"))
        }
        W::RequiredEkuNotFoundContext(_) => {
            ChainError::Other("a certificate on the chain does not allow code signing".into())
        }
        other => ChainError::Other(format!("{other:?}")),
    }
}

/// The anchors of one state as webpki trust anchors, with the stored fingerprint and
/// certificate each came from.
struct AnchorSet {
    owners: Vec<(Fingerprint, CertificateDer<'static>)>,
}

impl AnchorSet {
    fn of_state(
        anchors: &[Anchor],
        state: AnchorState,
        package: &[CertificateDer<'static>],
    ) -> Self {
        let mut owners = Vec::new();
        for a in anchors.iter().filter(|a| a.state == state) {
            if let Some(der) = &a.cert_der {
                owners.push((a.sha256, CertificateDer::from(der.clone())));
            }
            // Fingerprint alone (or a stored certificate the package also carries).
            for c in package {
                if Fingerprint::of(c) == a.sha256 && !owners.iter().any(|(_, d)| d == c) {
                    owners.push((a.sha256, c.clone()));
                }
            }
        }
        Self { owners }
    }

    fn trust_anchors(&self) -> (Vec<TrustAnchor<'_>>, Vec<usize>) {
        let mut anchors = Vec::new();
        let mut index = Vec::new();
        for (i, (_, der)) in self.owners.iter().enumerate() {
            if let Ok(ta) = webpki::anchor_from_trusted_cert(der) {
                anchors.push(ta);
                index.push(i);
            }
        }
        (anchors, index)
    }
}

/// Build the best path from the signer to a stored anchor.
pub fn build_chain(input: &ChainInput<'_>) -> ChainOutcome {
    let leaf = input.leaf;
    let leaf_only = || vec![leaf.clone()];
    let pool: Vec<CertificateDer<'static>> = input
        .pool
        .iter()
        .filter(|c| *c != leaf)
        .take(MAX_POOL)
        .cloned()
        .collect();
    let mut everything = leaf_only();
    everything.extend(pool.iter().cloned());

    // The leaf must name code signing (webpki only checks it if present).
    let info = match cert::inspect(leaf) {
        Ok(i) => i,
        Err(e) => {
            return ChainOutcome::Invalid {
                error: ChainError::Malformed(e.to_string()),
                path: leaf_only(),
            }
        }
    };
    if !info.code_signing {
        return ChainOutcome::Invalid {
            error: ChainError::LeafNotForCodeSigning,
            path: leaf_only(),
        };
    }

    let revoked: Vec<Fingerprint> = input
        .anchors
        .iter()
        .filter(|a| a.state == AnchorState::Revoked)
        .map(|a| a.sha256)
        .collect();
    let leaf_fp = info.sha256;
    if revoked.contains(&leaf_fp) {
        return ChainOutcome::Invalid {
            error: ChainError::Revoked {
                fingerprint: leaf_fp,
            },
            path: leaf_only(),
        };
    }

    // A pinned leaf: webpki cannot take an end-entity as its own anchor.
    for state in [AnchorState::Approved, AnchorState::Candidate] {
        if input
            .anchors
            .iter()
            .any(|a| a.state == state && a.sha256 == leaf_fp)
        {
            let at = i64::try_from(input.at.as_secs()).unwrap_or(i64::MAX);
            let error = if info.not_after.unix_timestamp() < at {
                Some(ChainError::Expired {
                    subject: info.subject.clone(),
                    not_after: fmt_unix(UnixTime::since_unix_epoch(
                        std::time::Duration::from_secs(
                            u64::try_from(info.not_after.unix_timestamp()).unwrap_or(0),
                        ),
                    )),
                })
            } else if info.not_before.unix_timestamp() > at {
                Some(ChainError::NotYetValid {
                    subject: info.subject.clone(),
                    not_before: info.not_before.to_string(),
                })
            } else {
                None
            };
            return match error {
                Some(error) => ChainOutcome::Invalid {
                    error,
                    path: leaf_only(),
                },
                None => ChainOutcome::Reached {
                    state,
                    anchor: leaf_fp,
                    path: leaf_only(),
                },
            };
        }
    }

    let eku = EkuPolicy::IfPresent(CODE_SIGNING_OID);
    let mut first_error: Option<webpki::Error> = None;
    let hit_revoked: Cell<Option<Fingerprint>> = Cell::new(None);
    for state in [AnchorState::Approved, AnchorState::Candidate] {
        let set = AnchorSet::of_state(input.anchors, state, &everything);
        let (anchors, index) = set.trust_anchors();
        let owner_of = |ta: &TrustAnchor<'_>| {
            anchors
                .iter()
                .position(|a| {
                    a.subject == ta.subject
                        && a.subject_public_key_info == ta.subject_public_key_info
                })
                .map(|p| set.owners[index[p]].0)
        };
        let reject = |p: &VerifiedPath<'_>| {
            let mut fps: Vec<Fingerprint> = p
                .intermediate_certificates()
                .map(|c| Fingerprint::of(&c.der()))
                .collect();
            fps.extend(owner_of(p.anchor()));
            match fps.into_iter().find(|f| revoked.contains(f)) {
                Some(fp) => {
                    hit_revoked.set(Some(fp));
                    Err(webpki::Error::CertRevoked)
                }
                None => Ok(()),
            }
        };
        match run_webpki(leaf, &pool, &anchors, input.at, eku, &reject) {
            Ok(found) => {
                let (anchor_fp, anchor_der) = set.owners[index[found.anchor_index]].clone();
                let validity = anchor_validity(&anchor_der, input.at);
                let mut path = leaf_only();
                path.extend(found.intermediates);
                path.push(anchor_der);
                return match validity {
                    Ok(()) => ChainOutcome::Reached {
                        state,
                        anchor: anchor_fp,
                        path,
                    },
                    Err(error) => ChainOutcome::Invalid { error, path },
                };
            }
            Err(e) => {
                if first_error.is_none()
                    || matches!(first_error, Some(webpki::Error::UnknownIssuer))
                {
                    first_error = Some(e);
                }
            }
        }
    }

    // Only revoked anchors (or revoked certificates) lead anywhere.
    let set = AnchorSet::of_state(input.anchors, AnchorState::Revoked, &everything);
    let (anchors, index) = set.trust_anchors();
    if let Ok(found) = run_webpki(leaf, &pool, &anchors, input.at, eku, &|_| Ok(())) {
        let (fp, der) = set.owners[index[found.anchor_index]].clone();
        let mut path = leaf_only();
        path.extend(found.intermediates);
        path.push(der);
        return ChainOutcome::Invalid {
            error: ChainError::Revoked { fingerprint: fp },
            path,
        };
    }
    if let Some(fp) = hit_revoked.get() {
        return ChainOutcome::Invalid {
            error: ChainError::Revoked { fingerprint: fp },
            path: leaf_only(),
        };
    }
    match first_error {
        Some(webpki::Error::UnknownIssuer) | None => {
            judge_own_chain(leaf, &pool, input.at, &everything)
        }
        Some(e) => ChainOutcome::Invalid {
            error: map_error(&e, &everything),
            path: leaf_only(),
        },
    }
}

/// No stored anchor is reachable: judge the package's own chain with its self-issued
/// CA certificates as hypothetical anchors, so a defect (not a CA, path length, expired
/// intermediate) is reported as `invalid` rather than hidden behind `unknown_signer`.
fn judge_own_chain(
    leaf: &CertificateDer<'static>,
    pool: &[CertificateDer<'static>],
    at: UnixTime,
    everything: &[CertificateDer<'static>],
) -> ChainOutcome {
    let roots: Vec<CertificateDer<'static>> = pool
        .iter()
        .filter(|c| cert::inspect(c).is_ok_and(|i| i.self_issued && i.is_ca))
        .cloned()
        .collect();
    let eku = EkuPolicy::IfPresent(CODE_SIGNING_OID);
    let anchors: Vec<TrustAnchor<'_>> = roots
        .iter()
        .filter_map(|d| webpki::anchor_from_trusted_cert(d).ok())
        .collect();
    match run_webpki(leaf, pool, &anchors, at, eku, &|_| Ok(())) {
        Ok(found) => {
            let mut path = vec![leaf.clone()];
            path.extend(found.intermediates);
            path.extend(roots.get(found.anchor_index).cloned());
            ChainOutcome::NoAnchor { path }
        }
        Err(webpki::Error::UnknownIssuer) => ChainOutcome::NoAnchor {
            path: link_by_name(leaf, pool),
        },
        Err(e) => ChainOutcome::Invalid {
            error: map_error(&e, everything),
            path: vec![leaf.clone()],
        },
    }
}

/// Follow issuer names from the leaf through `pool` (no signature checks: display
/// only), stopping at a self-issued certificate, a loop, or after `MAX_POOL` steps.
fn link_by_name(
    leaf: &CertificateDer<'static>,
    pool: &[CertificateDer<'static>],
) -> Vec<CertificateDer<'static>> {
    let infos: Vec<_> = pool.iter().map(|c| cert::inspect(c).ok()).collect();
    let mut path = vec![leaf.clone()];
    let Ok(mut current) = cert::inspect(leaf) else {
        return path;
    };
    while !current.self_issued && path.len() <= MAX_POOL {
        let next = infos.iter().zip(pool).find(|(i, c)| {
            i.as_ref().is_some_and(|i| i.subject == current.issuer) && !path.contains(c)
        });
        match next {
            Some((Some(info), der)) => {
                path.push(der.clone());
                current = info.clone();
            }
            _ => break,
        }
    }
    path
}

#[cfg(test)]
mod tests;
