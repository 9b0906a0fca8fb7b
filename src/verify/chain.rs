//! Path building from the signer to a stored anchor (CONTRACT §2), with rustls-webpki.
//!
//! [`build_chain`] decides which stored anchor (if any) a signer's certificate reaches:
//!
//! 1. The leaf must carry an EKU extension listing id-kp-codeSigning (checked here with
//!    x509-parser); every other certificate on the path that has an EKU extension must
//!    list it too (webpki `required_if_present`, so CAs without EKU pass).
//! 2. A leaf that *is* an anchor (pinned: its SHA-256 equals a stored anchor's) is
//!    judged directly: webpki cannot use an end-entity as its own anchor.
//! 3. Otherwise webpki searches for a path to the **approved** anchors first, then to
//!    the **candidate** anchors. A path through a certificate whose SHA-256 is a revoked
//!    anchor's is rejected inside the search, so webpki keeps looking for another one
//!    (e.g. through a cross-sign). Anchors known by fingerprint alone are reached when
//!    the package carries a certificate with that fingerprint.
//! 4. If no approved or candidate anchor is reached, a path to a **revoked** anchor (or
//!    one that was only refused for a revoked certificate on it) makes the chain
//!    `Invalid{Revoked}`; any specific webpki error (expired, not a CA, path length,
//!    weak algorithm...) makes it `Invalid` with that reason.
//! 5. Only when every search ended in "unknown issuer" is the package's own chain judged
//!    without our anchors: its self-issued certificates stand in as anchors, and a
//!    specific failure is still `Invalid`; otherwise the outcome is `NoAnchor`.
//!
//! A fingerprint that is revoked in any stored anchor is revoked here, even if another
//! vendor's entry for the same certificate is approved: the caller narrows `anchors` to
//! one vendor when that is wanted.
//!
//! Bounded work: at most [`MAX_POOL`] package certificates are considered, and webpki
//! enforces its own budgets (signature checks, path-building calls, depth).

mod path;

use std::cell::RefCell;
use std::collections::HashSet;

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::trust::cert::inspect;
use crate::trust::{Anchor, AnchorState, Fingerprint};

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER OID content bytes as webpki wants them.
pub const CODE_SIGNING_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// Most package certificates considered for path building. A vendor chain is a handful
/// of certificates; 64 leaves room for cross-signs and bundles while keeping webpki's
/// per-candidate work small. Extra certificates are ignored (in input order), never an
/// error: they could only add paths, and webpki's budget bounds the search anyway.
pub const MAX_POOL: usize = 64;

/// Which extended key usage a path must allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EkuPolicy {
    /// No EKU requirement (x509-limbo cases that request none).
    Off,
    /// The leaf must have an EKU extension listing this OID (DER content bytes), and
    /// every other certificate with an EKU extension must list it too.
    Require(&'static [u8]),
    /// RFC 5280 §4.2.1.12 reading: any certificate on the path that has an EKU
    /// extension must list this OID; a leaf without the extension passes.
    IfPresent(&'static [u8]),
}

impl EkuPolicy {
    /// CONTRACT §2: the signer must be a code-signing certificate.
    pub const CODE_SIGNING: Self = Self::Require(CODE_SIGNING_OID);
}

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
    #[error("an issuer's extended key usage excludes code signing")]
    IssuerEkuExcludesCodeSigning,
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
    /// could be judged without an anchor. `path` is the package's own chain as far as
    /// issuer names link it (leaf first): for display and escalation, never for trust.
    NoAnchor { path: Vec<CertificateDer<'static>> },
    /// The chain is refused (expired, not a CA, revoked anchor on the only path...).
    Invalid {
        error: ChainError,
        /// The best partial path known, leaf first (at least the leaf).
        path: Vec<CertificateDer<'static>>,
    },
}

/// The path-validation layer on its own: can `leaf` reach one of `anchors_der` through
/// `intermediates` at `at` under `eku`? The same webpki search [`build_chain`] runs,
/// without trust-store states; the x509-limbo harness uses it. Returns the path, leaf
/// first, ending with the anchor's certificate. Pool certificates beyond [`MAX_POOL`]
/// and unparseable ones are ignored; anchors webpki cannot read are skipped.
pub fn validate_path(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'static>],
    anchors_der: &[CertificateDer<'_>],
    at: UnixTime,
    eku: EkuPolicy,
) -> Result<Vec<CertificateDer<'static>>, ChainError> {
    if let EkuPolicy::Require(oid) = eku {
        if !path::leaf_eku_ok(leaf, oid)? {
            return Err(ChainError::LeafNotForCodeSigning);
        }
    }
    let pool = path::parseable_pool(leaf, intermediates, MAX_POOL);
    match path::search(leaf, &pool, anchors_der, at, eku, None) {
        Ok(found) => {
            let mut out = vec![leaf.clone().into_owned()];
            out.extend(found.intermediates);
            if let Some(der) = anchors_der.get(found.anchor) {
                out.push(der.clone().into_owned());
            }
            Ok(out)
        }
        Err(e) => {
            let certs: Vec<&CertificateDer<'_>> = std::iter::once(leaf)
                .chain(&pool)
                .chain(anchors_der)
                .collect();
            Err(path::map_error(&e, &certs))
        }
    }
}

/// A stored anchor made usable: its certificate (stored, or the package certificate
/// matching a fingerprint-only anchor), the stored fingerprint and effective state.
struct Usable {
    der: CertificateDer<'static>,
    fingerprint: Fingerprint,
    state: AnchorState,
}

/// Approved beats candidate; revoked beats both (it is a refusal, not a preference).
fn merge(current: Option<AnchorState>, new: AnchorState) -> AnchorState {
    use AnchorState::{Approved, Candidate, Revoked};
    match (current, new) {
        (Some(Revoked), _) | (_, Revoked) => Revoked,
        (Some(Approved), _) | (_, Approved) => Approved,
        _ => Candidate,
    }
}

pub fn build_chain(input: &ChainInput<'_>) -> ChainOutcome {
    let leaf = input.leaf;
    let invalid = |error: ChainError, path: Vec<CertificateDer<'static>>| ChainOutcome::Invalid {
        error,
        path,
    };
    let leaf_info = match inspect(leaf) {
        Ok(info) => info,
        Err(e) => return invalid(ChainError::Malformed(e.to_string()), vec![leaf.clone()]),
    };
    let pool = path::parseable_pool(leaf, input.pool, MAX_POOL);
    let partial = || partial_path(leaf, &pool);
    let leaf_fp = leaf_info.sha256;

    // Effective anchors. A revoked fingerprint stays revoked whatever other entries say.
    let revoked: HashSet<Fingerprint> = input
        .anchors
        .iter()
        .filter(|a| a.state == AnchorState::Revoked)
        .map(|a| a.sha256)
        .collect();
    let mut pinned: Option<AnchorState> = None;
    let mut usable: Vec<Usable> = Vec::new();
    for anchor in input.anchors {
        let state = if revoked.contains(&anchor.sha256) {
            AnchorState::Revoked
        } else {
            anchor.state
        };
        if anchor.sha256 == leaf_fp {
            pinned = Some(merge(pinned, state));
            continue;
        }
        let der = match &anchor.cert_der {
            // A stored certificate that does not hash to its key is store corruption;
            // it is not trusted under a fingerprint it does not have.
            Some(der) if Fingerprint::of(der) == anchor.sha256 => CertificateDer::from(der.clone()),
            Some(_) => continue,
            None => match input
                .pool
                .iter()
                .find(|c| Fingerprint::of(c) == anchor.sha256)
            {
                Some(c) => c.clone(),
                None => continue,
            },
        };
        match usable.iter_mut().find(|u| u.fingerprint == anchor.sha256) {
            Some(u) => u.state = merge(Some(u.state), state),
            None => usable.push(Usable {
                der,
                fingerprint: anchor.sha256,
                state,
            }),
        }
    }

    if pinned == Some(AnchorState::Revoked) {
        let error = ChainError::Revoked {
            fingerprint: leaf_fp,
        };
        return invalid(error, vec![leaf.clone()]);
    }
    if !(leaf_info.has_eku && leaf_info.code_signing) {
        return invalid(ChainError::LeafNotForCodeSigning, partial());
    }
    if pinned.is_some() {
        let at = i64::try_from(input.at.as_secs()).unwrap_or(i64::MAX);
        let rfc = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        if at < leaf_info.not_before.unix_timestamp() {
            let error = ChainError::NotYetValid {
                subject: leaf_info.subject,
                not_before: rfc(leaf_info.not_before),
            };
            return invalid(error, vec![leaf.clone()]);
        }
        if at > leaf_info.not_after.unix_timestamp() {
            let error = ChainError::Expired {
                subject: leaf_info.subject,
                not_after: rfc(leaf_info.not_after),
            };
            return invalid(error, vec![leaf.clone()]);
        }
    }

    // A path whose certificates include a revoked one is refused inside the search, so
    // webpki backtracks and tries the next candidate issuer.
    let revoked_hit: RefCell<Option<(Fingerprint, Vec<CertificateDer<'static>>)>> =
        RefCell::new(None);
    let mut failure: Option<webpki::Error> = None;
    for state in [AnchorState::Approved, AnchorState::Candidate] {
        if pinned == Some(state) {
            return ChainOutcome::Reached {
                state,
                anchor: leaf_fp,
                path: vec![leaf.clone()],
            };
        }
        let mut chosen: Vec<&Usable> = usable.iter().filter(|u| u.state == state).collect();
        // When a root and a cross-signed copy of it (same subject and key) are both
        // stored, name the self-signed root as the anchor reached: it is the one the
        // vendor announced as the root.
        chosen.sort_by_key(|u| !inspect(&u.der).is_ok_and(|i| i.self_issued));
        if chosen.is_empty() {
            continue;
        }
        let ders: Vec<CertificateDer<'static>> = chosen.iter().map(|u| u.der.clone()).collect();
        let check = |intermediates: &[CertificateDer<'static>], anchor: usize| {
            for cert in intermediates {
                let fp = Fingerprint::of(cert);
                if revoked.contains(&fp) {
                    let mut p = vec![leaf.clone()];
                    p.extend(intermediates.iter().cloned());
                    p.extend(ders.get(anchor).cloned());
                    revoked_hit.borrow_mut().get_or_insert((fp, p));
                    return Err(webpki::Error::CertRevoked);
                }
            }
            Ok(())
        };
        match path::search(
            leaf,
            &pool,
            &ders,
            input.at,
            EkuPolicy::CODE_SIGNING,
            Some(&check),
        ) {
            Ok(found) => {
                let Some(u) = chosen.get(found.anchor) else {
                    continue;
                };
                let mut path = vec![leaf.clone()];
                path.extend(found.intermediates);
                path.push(u.der.clone());
                return ChainOutcome::Reached {
                    state,
                    anchor: u.fingerprint,
                    path,
                };
            }
            Err(webpki::Error::UnknownIssuer) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if pinned == Some(AnchorState::Candidate) {
        return ChainOutcome::Reached {
            state: AnchorState::Candidate,
            anchor: leaf_fp,
            path: vec![leaf.clone()],
        };
    }

    // No approved or candidate anchor: does a path end at a revoked anchor?
    let ders: Vec<CertificateDer<'static>> = usable
        .iter()
        .filter(|u| u.state == AnchorState::Revoked)
        .map(|u| u.der.clone())
        .collect();
    if !ders.is_empty() && revoked_hit.borrow().is_none() {
        if let Ok(found) = path::search(leaf, &pool, &ders, input.at, EkuPolicy::CODE_SIGNING, None)
        {
            if let Some(der) = ders.get(found.anchor) {
                let hit = found
                    .intermediates
                    .iter()
                    .map(|c| Fingerprint::of(c))
                    .find(|fp| revoked.contains(fp))
                    .unwrap_or_else(|| Fingerprint::of(der));
                let mut path = vec![leaf.clone()];
                path.extend(found.intermediates);
                path.push(der.clone());
                *revoked_hit.borrow_mut() = Some((hit, path));
            }
        }
    }
    if let Some((fingerprint, path)) = revoked_hit.into_inner() {
        return invalid(ChainError::Revoked { fingerprint }, path);
    }
    let certs: Vec<&CertificateDer<'_>> = std::iter::once(leaf)
        .chain(&pool)
        .chain(usable.iter().map(|u| &u.der))
        .collect();
    if let Some(e) = failure {
        return invalid(path::map_error(&e, &certs), partial());
    }
    judge_without_anchor(leaf, &pool, &revoked, input.at, &certs, partial)
}

/// CONTRACT §2 `unknown_signer` still needs a chain that is sound on its own: the
/// package's self-issued certificates stand in as anchors. A revoked certificate or a
/// specific webpki error on that chain makes it `Invalid`; "unknown issuer" (no root in
/// the package, or none that connects) and success both give `NoAnchor`. With no
/// self-issued certificate the search still runs, anchorless, so an expired leaf or a
/// broken intermediate is reported.
fn judge_without_anchor(
    leaf: &CertificateDer<'static>,
    pool: &[CertificateDer<'static>],
    revoked: &HashSet<Fingerprint>,
    at: UnixTime,
    certs: &[&CertificateDer<'_>],
    partial: impl Fn() -> Vec<CertificateDer<'static>>,
) -> ChainOutcome {
    let roots: Vec<CertificateDer<'static>> = pool
        .iter()
        .filter(|c| inspect(c).is_ok_and(|i| i.self_issued))
        .cloned()
        .collect();
    let hit: RefCell<Option<Fingerprint>> = RefCell::new(None);
    let check = |intermediates: &[CertificateDer<'static>], anchor: usize| {
        let anchor_der = roots.get(anchor);
        for cert in intermediates.iter().chain(anchor_der) {
            let fp = Fingerprint::of(cert);
            if revoked.contains(&fp) {
                hit.borrow_mut().get_or_insert(fp);
                return Err(webpki::Error::CertRevoked);
            }
        }
        Ok(())
    };
    let result = path::search(
        leaf,
        pool,
        &roots,
        at,
        EkuPolicy::CODE_SIGNING,
        Some(&check),
    );
    if let Some(fingerprint) = hit.into_inner() {
        if result.is_err() {
            return ChainOutcome::Invalid {
                error: ChainError::Revoked { fingerprint },
                path: partial(),
            };
        }
    }
    match result {
        Ok(_) | Err(webpki::Error::UnknownIssuer) => ChainOutcome::NoAnchor { path: partial() },
        Err(e) => ChainOutcome::Invalid {
            error: path::map_error(&e, certs),
            path: partial(),
        },
    }
}

/// For messages on refused chains: the leaf, then pool certificates linked by name
/// (subject = previous issuer), stopping at a self-issued one, a repeat or 8 steps.
fn partial_path(
    leaf: &CertificateDer<'static>,
    pool: &[CertificateDer<'static>],
) -> Vec<CertificateDer<'static>> {
    let names = |der: &[u8]| {
        x509_parser::parse_x509_certificate(der)
            .ok()
            .map(|(_, c)| (c.subject().as_raw().to_vec(), c.issuer().as_raw().to_vec()))
    };
    let mut out = vec![leaf.clone()];
    let Some((mut subject, mut issuer)) = names(leaf) else {
        return out;
    };
    while subject != issuer && out.len() < 8 {
        let next = pool.iter().find_map(|c| {
            let (s, i) = names(c)?;
            (s == issuer && !out.contains(c)).then(|| (c.clone(), s, i))
        });
        let Some((cert, s, i)) = next else { break };
        out.push(cert);
        subject = s;
        issuer = i;
    }
    out
}

#[cfg(test)]
mod tests;
