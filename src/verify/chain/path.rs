//! The path-validation layer: one rustls-webpki search from a leaf through a pool of
//! intermediates to a set of trust anchors, at a given time, under an [`EkuPolicy`].
//!
//! Both [`super::build_chain`] (our trust store) and the x509-limbo harness
//! (`tests/limbo.rs`, through [`validate_path`]) go through [`search`], so the limbo
//! figures describe the code that decides verdicts.
//!
//! What webpki checks on every path (RFC 5280 §6.1 as profiled by mozilla::pkix):
//! signatures (SHA-1 and MD5 are not in `ALL_VERIFICATION_ALGS`), validity at `at`,
//! basicConstraints cA and pathLenConstraint, name constraints, EKU chaining, unknown
//! critical extensions, and its own budgets (100 signature checks, 200 000 path-building
//! calls, 6 sub-CAs deep) against hostile pools.

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
// rustls-webpki: the maintained, budgeted RFC 5280 path builder of the rustls project;
// it decides. x509-parser (via `trust::cert`) only reads fields for the leaf EKU policy
// and for messages.
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter, KeyUsage, VerifiedPath};

use super::{ChainError, EkuPolicy};
use crate::trust::cert::inspect;

/// A path webpki accepted: which anchor (index into the slice given to [`search`]) and
/// the intermediates, leaf side first.
#[derive(Debug)]
pub(super) struct Found {
    pub(super) anchor: usize,
    pub(super) intermediates: Vec<CertificateDer<'static>>,
}

/// An extra check on a complete candidate path (intermediates leaf side first, anchor
/// index); an error makes webpki drop this path and keep searching.
pub(super) type PathCheck<'c> =
    &'c dyn Fn(&[CertificateDer<'static>], usize) -> Result<(), webpki::Error>;

/// webpki's EKU hook for our policies. `Require`/`IfPresent` use webpki's own
/// `required_if_present`: a certificate without EKU passes, one with EKU must list the
/// purpose. `Require` additionally needs the leaf to carry it, which [`leaf_eku_ok`]
/// checks, because webpki's `required()` would also demand it of every intermediate
/// (EKU chaining; LIBRARIES.md §5).
#[derive(Clone, Copy)]
struct EkuValidator(Option<KeyUsage>);

impl ExtendedKeyUsageValidator for EkuValidator {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        match &self.0 {
            Some(usage) => usage.validate(iter),
            None => Ok(()),
        }
    }
}

/// One webpki search from `leaf` through `pool` to one of `anchor_ders`. `pool` should
/// already be parseable (see [`parseable_pool`]); anchors webpki cannot read are left
/// out. `Found::anchor` indexes `anchor_ders`.
///
/// On top of webpki, a path is refused (and the search goes on) when its anchor
/// certificate is outside its validity period at `at`: webpki treats anchors as bare
/// name+key and never looks at their dates, but CONTRACT §2 wants every certificate on
/// the chain valid at the verification time (x509-limbo `rfc5280::validity::expired-root`).
pub(super) fn search(
    leaf: &CertificateDer<'_>,
    pool: &[CertificateDer<'static>],
    anchor_ders: &[CertificateDer<'_>],
    at: UnixTime,
    eku: EkuPolicy,
    check: Option<PathCheck<'_>>,
) -> Result<Found, webpki::Error> {
    let end_entity = EndEntityCert::try_from(leaf)?;
    let (anchors, index) = anchors_from(anchor_ders);
    let validator = EkuValidator(match eku {
        EkuPolicy::Off => None,
        EkuPolicy::Require(oid) | EkuPolicy::IfPresent(oid) => {
            Some(KeyUsage::required_if_present(oid))
        }
    });
    let callback = |path: &VerifiedPath<'_>| -> Result<(), webpki::Error> {
        let (anchor, intermediates) = describe(path, &anchors, &index)?;
        if let Some(der) = anchor_ders.get(anchor) {
            anchor_validity(der, at)?;
        }
        match check {
            Some(check) => check(&intermediates, anchor),
            None => Ok(()),
        }
    };
    let path = end_entity.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        pool,
        at,
        validator,
        None,
        Some(&callback),
    )?;
    let (anchor, intermediates) = describe(&path, &anchors, &index)?;
    Ok(Found {
        anchor,
        intermediates,
    })
}

/// RFC 5280 §4.1.2.5 for the anchor certificate, with webpki's inclusive bounds. An
/// anchor x509-parser cannot read (webpki could) has no dates we can check, and passes.
fn anchor_validity(der: &CertificateDer<'_>, at: UnixTime) -> Result<(), webpki::Error> {
    let Ok(info) = inspect(der) else {
        return Ok(());
    };
    let to_unix = |t: time::OffsetDateTime| {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(t.unix_timestamp()).unwrap_or(0),
        ))
    };
    let secs = i64::try_from(at.as_secs()).unwrap_or(i64::MAX);
    if secs < info.not_before.unix_timestamp() {
        return Err(webpki::Error::CertNotValidYet {
            time: at,
            not_before: to_unix(info.not_before),
        });
    }
    if secs > info.not_after.unix_timestamp() {
        return Err(webpki::Error::CertExpired {
            time: at,
            not_after: to_unix(info.not_after),
        });
    }
    Ok(())
}

/// Which anchor a path reached, as an index into the caller's anchor DERs (by identity:
/// webpki hands back a reference into our `anchors` slice), and its intermediates as
/// owned DER.
fn describe(
    path: &VerifiedPath<'_>,
    anchors: &[TrustAnchor<'_>],
    index: &[usize],
) -> Result<(usize, Vec<CertificateDer<'static>>), webpki::Error> {
    let reached = path.anchor();
    let anchor = anchors
        .iter()
        .position(|a| std::ptr::eq(a, reached))
        .and_then(|i| index.get(i).copied())
        // Cannot happen (webpki only returns anchors it was given); refuse the path
        // rather than guess.
        .ok_or(webpki::Error::UnknownIssuer)?;
    let intermediates = path
        .intermediate_certificates()
        .map(|cert| cert.der().into_owned())
        .collect();
    Ok((anchor, intermediates))
}

/// Pool certificates webpki can parse, without duplicates or the leaf itself, at most
/// `cap` of them. Unparseable certificates cannot be on any valid path, and leaving them
/// in would let webpki report `BadDer` (ranked above `UnknownIssuer`) for a chain that
/// simply has no anchor; whether a package carrying junk is itself malformed is the
/// package reader's call, not path building's.
pub(super) fn parseable_pool(
    leaf: &CertificateDer<'_>,
    pool: &[CertificateDer<'static>],
    cap: usize,
) -> Vec<CertificateDer<'static>> {
    let mut out: Vec<CertificateDer<'static>> = Vec::new();
    for cert in pool {
        if out.len() >= cap {
            break;
        }
        if cert.as_ref() == leaf.as_ref() || out.iter().any(|c| c.as_ref() == cert.as_ref()) {
            continue;
        }
        if EndEntityCert::try_from(cert).is_ok() {
            out.push(cert.clone());
        }
    }
    out
}

/// CONTRACT §2 leaf rule for `Require(oid)`: the leaf has an EKU extension and it lists
/// `oid` (anyExtendedKeyUsage does not stand in for it, as in webpki).
pub(super) fn leaf_eku_ok(leaf: &[u8], oid: &[u8]) -> Result<bool, ChainError> {
    let info = inspect(leaf).map_err(|e| ChainError::Malformed(e.to_string()))?;
    if !info.has_eku {
        return Ok(false);
    }
    if oid == super::CODE_SIGNING_OID {
        return Ok(info.code_signing);
    }
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| ChainError::Malformed(e.to_string()))?;
    let eku = match cert.extended_key_usage() {
        Ok(Some(eku)) => eku.value,
        Ok(None) => return Ok(false),
        Err(e) => return Err(ChainError::Malformed(e.to_string())),
    };
    const KP: [u8; 7] = [0x2b, 6, 1, 5, 5, 7, 3];
    let flagged = [
        (eku.server_auth, 1u8),
        (eku.client_auth, 2),
        (eku.code_signing, 3),
        (eku.email_protection, 4),
        (eku.time_stamping, 8),
        (eku.ocsp_signing, 9),
    ];
    let by_flag = oid.len() == 8
        && oid.starts_with(&KP)
        && flagged
            .iter()
            .any(|&(on, last)| on && oid.last() == Some(&last));
    Ok(by_flag || eku.other.iter().any(|o| o.as_bytes() == oid))
}

/// Anchors from DER certificates (`anchor_from_trusted_cert`: v1 roots are accepted as
/// anchors only), with the index in `ders` of each. Certificates webpki cannot read as
/// an anchor are left out, as rustls-webpki's own limbo harness does.
fn anchors_from<'a>(ders: &'a [CertificateDer<'a>]) -> (Vec<TrustAnchor<'a>>, Vec<usize>) {
    ders.iter()
        .enumerate()
        .filter_map(|(i, der)| webpki::anchor_from_trusted_cert(der).ok().map(|a| (a, i)))
        .unzip()
}

/// webpki's verdict as our comparable reason. `certs` are the certificates that could
/// be on the path (leaf first): they name the certificate in validity errors.
#[allow(deprecated)] // `RequiredEkuNotFound` is still a variant webpki may return.
pub(super) fn map_error(err: &webpki::Error, certs: &[&CertificateDer<'_>]) -> ChainError {
    use webpki::Error as E;
    match err {
        E::CertExpired { not_after, .. } => {
            let subject = subject_where(certs, |i| i.not_after.unix_timestamp(), not_after);
            ChainError::Expired {
                subject,
                not_after: rfc3339(not_after),
            }
        }
        E::CertNotValidYet { not_before, .. } => {
            let subject = subject_where(certs, |i| i.not_before.unix_timestamp(), not_before);
            ChainError::NotYetValid {
                subject,
                not_before: rfc3339(not_before),
            }
        }
        E::CaUsedAsEndEntity | E::EndEntityUsedAsCa => ChainError::IssuerNotCa,
        E::PathLenConstraintViolated => ChainError::PathLenExceeded,
        E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            ChainError::WeakAlgorithm(format!("{err:?}"))
        }
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            ChainError::IssuerEkuExcludesCodeSigning
        }
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::InvalidCertValidity
        | E::InvalidSerialNumber
        | E::UnsupportedCertVersion => ChainError::Malformed(format!("{err:?}")),
        E::UnknownIssuer => {
            ChainError::Other("no path to a trust anchor (unknown issuer)".to_owned())
        }
        E::MaximumSignatureChecksExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumPathDepthExceeded
        | E::MaximumNameConstraintComparisonsExceeded => {
            ChainError::Other(format!("path building gave up: budget exhausted ({err:?})"))
        }
        E::InvalidSignatureForPublicKey => ChainError::Other(
            "a certificate's signature does not verify with its issuer's key".to_owned(),
        ),
        other => ChainError::Other(format!("{other:?}")),
    }
}

/// Subject of the first certificate whose date (by `pick`) equals `when`, else "a
/// certificate on the chain".
fn subject_where(
    certs: &[&CertificateDer<'_>],
    pick: impl Fn(&crate::trust::cert::CertInfo) -> i64,
    when: &UnixTime,
) -> String {
    let secs = i64::try_from(when.as_secs()).unwrap_or(i64::MAX);
    certs
        .iter()
        .filter_map(|der| inspect(der).ok())
        .find(|info| pick(info) == secs)
        .map_or_else(|| "on the chain".to_owned(), |info| info.subject)
}

pub(super) fn rfc3339(t: &UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|dt| {
            dt.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{} seconds after the epoch", t.as_secs()))
}
