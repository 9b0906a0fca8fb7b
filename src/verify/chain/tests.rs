//! Path-building tests with certificates made by rcgen at test time.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use super::*;

struct Id {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
}

fn key(alg: &'static rcgen::SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).unwrap()
}

fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(path_len.map_or(
        BasicConstraints::Unconstrained,
        BasicConstraints::Constrained,
    ));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = OffsetDateTime::now_utc() - Duration::days(10);
    p.not_after = OffsetDateTime::now_utc() + Duration::days(1000);
    p.use_authority_key_identifier_extension = true;
    p
}

fn leaf_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::ExplicitNoCa;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    p.not_after = OffsetDateTime::now_utc() + Duration::days(100);
    p.use_authority_key_identifier_extension = true;
    p
}

impl Id {
    fn root(cn: &str, alg: &'static rcgen::SignatureAlgorithm) -> Self {
        let params = ca_params(cn, None);
        let key = key(alg);
        let der = params.self_signed(&key).unwrap().der().clone();
        Self { params, key, der }
    }

    fn issue(&self, params: CertificateParams, alg: &'static rcgen::SignatureAlgorithm) -> Self {
        let key = key(alg);
        let der = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap()
            .der()
            .clone();
        Self { params, key, der }
    }

    fn cross(&self, other: &Self) -> CertificateDer<'static> {
        other
            .params
            .signed_by(&other.key, &Issuer::from_params(&self.params, &self.key))
            .unwrap()
            .der()
            .clone()
    }

    fn fp(&self) -> Fingerprint {
        Fingerprint::of(&self.der)
    }
}

const P256: &rcgen::SignatureAlgorithm = &rcgen::PKCS_ECDSA_P256_SHA256;

fn anchor(der: Option<&CertificateDer<'static>>, fp: Fingerprint, state: AnchorState) -> Anchor {
    Anchor {
        sha256: fp,
        vendor: "dten".into(),
        state,
        source: "test".into(),
        first_seen: OffsetDateTime::UNIX_EPOCH,
        updated: OffsetDateTime::UNIX_EPOCH,
        cert_der: der.map(|d| d.to_vec()),
        subject: None,
        not_after: None,
        revoked_reason: None,
    }
}

fn stored(id: &Id, state: AnchorState) -> Anchor {
    anchor(Some(&id.der), id.fp(), state)
}

fn now() -> UnixTime {
    UnixTime::now()
}

fn at_days(days: i64) -> UnixTime {
    let t = OffsetDateTime::now_utc() + Duration::days(days);
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(t.unix_timestamp()).unwrap(),
    ))
}

struct Pki {
    root: Id,
    int: Id,
    leaf: Id,
}

fn pki(alg: &'static rcgen::SignatureAlgorithm) -> Pki {
    let root = Id::root("Root", alg);
    let int = root.issue(ca_params("Intermediate", Some(0)), alg);
    let leaf = int.issue(leaf_params("Leaf"), alg);
    Pki { root, int, leaf }
}

fn build(
    leaf: &Id,
    pool: &[CertificateDer<'static>],
    anchors: &[Anchor],
    at: UnixTime,
) -> ChainOutcome {
    build_chain(&ChainInput {
        leaf: &leaf.der,
        pool,
        anchors,
        at,
    })
}

fn reached(o: &ChainOutcome) -> Option<(AnchorState, Fingerprint, usize)> {
    match o {
        ChainOutcome::Reached {
            state,
            anchor,
            path,
        } => Some((*state, *anchor, path.len())),
        _ => None,
    }
}

fn error(o: &ChainOutcome) -> Option<&ChainError> {
    match o {
        ChainOutcome::Invalid { error, .. } => Some(error),
        _ => None,
    }
}

#[test]
fn approved_candidate_and_unknown() {
    for alg in [P256, &rcgen::PKCS_ECDSA_P384_SHA384, &rcgen::PKCS_ED25519] {
        let p = pki(alg);
        let pool = [p.int.der.clone()];
        let o = build(
            &p.leaf,
            &pool,
            &[stored(&p.root, AnchorState::Approved)],
            now(),
        );
        assert_eq!(
            reached(&o),
            Some((AnchorState::Approved, p.root.fp(), 3)),
            "{o:?}"
        );
        let o = build(
            &p.leaf,
            &pool,
            &[stored(&p.root, AnchorState::Candidate)],
            now(),
        );
        assert_eq!(reached(&o), Some((AnchorState::Candidate, p.root.fp(), 3)));
        let o = build(&p.leaf, &pool, &[], now());
        assert!(matches!(o, ChainOutcome::NoAnchor { .. }), "{o:?}");
        // The package carrying its own root is still only "unknown".
        let o = build(
            &p.leaf,
            &[p.int.der.clone(), p.root.der.clone()],
            &[],
            now(),
        );
        assert!(matches!(o, ChainOutcome::NoAnchor { .. }), "{o:?}");
    }
}

#[test]
fn approved_wins_over_candidate_and_cross_signs_are_followed() {
    let old = Id::root("Old Root", P256);
    let new = Id::root("New Root", P256);
    let cross = old.cross(&new);
    let int = new.issue(ca_params("New CA", Some(0)), P256);
    let leaf = int.issue(leaf_params("Leaf"), P256);
    let anchors = [
        stored(&old, AnchorState::Approved),
        stored(&new, AnchorState::Candidate),
    ];
    let o = build(&leaf, &[int.der.clone(), cross.clone()], &anchors, now());
    assert_eq!(
        reached(&o),
        Some((AnchorState::Approved, old.fp(), 4)),
        "{o:?}"
    );
    let o = build(&leaf, &[int.der.clone()], &anchors, now());
    assert_eq!(reached(&o), Some((AnchorState::Candidate, new.fp(), 3)));
}

#[test]
fn revocations() {
    let p = pki(P256);
    let pool = [p.int.der.clone()];
    let o = build(
        &p.leaf,
        &pool,
        &[stored(&p.root, AnchorState::Revoked)],
        now(),
    );
    assert_eq!(
        error(&o),
        Some(&ChainError::Revoked {
            fingerprint: p.root.fp()
        }),
        "{o:?}"
    );

    // A revoked intermediate with no alternative.
    let anchors = [
        stored(&p.root, AnchorState::Approved),
        anchor(None, p.int.fp(), AnchorState::Revoked),
    ];
    let o = build(&p.leaf, &pool, &anchors, now());
    assert_eq!(
        error(&o),
        Some(&ChainError::Revoked {
            fingerprint: p.int.fp()
        }),
        "{o:?}"
    );

    // A revoked cross-sign with a clean alternative path: still reached.
    let old = Id::root("Old Root", P256);
    let new = Id::root("New Root", P256);
    let cross = old.cross(&new);
    let int = new.issue(ca_params("New CA", Some(0)), P256);
    let leaf = int.issue(leaf_params("Leaf"), P256);
    let anchors = [
        stored(&old, AnchorState::Approved),
        stored(&new, AnchorState::Approved),
        anchor(None, Fingerprint::of(&cross), AnchorState::Revoked),
    ];
    let o = build(&leaf, &[int.der.clone(), cross], &anchors, now());
    assert_eq!(
        reached(&o),
        Some((AnchorState::Approved, new.fp(), 3)),
        "{o:?}"
    );

    // A revoked leaf.
    let anchors = [
        stored(&p.root, AnchorState::Approved),
        anchor(None, p.leaf.fp(), AnchorState::Revoked),
    ];
    let o = build(&p.leaf, &pool, &anchors, now());
    assert_eq!(
        error(&o),
        Some(&ChainError::Revoked {
            fingerprint: p.leaf.fp()
        })
    );
}

#[test]
fn fingerprint_only_anchors() {
    let p = pki(P256);
    let pool = [p.int.der.clone(), p.root.der.clone()];
    let a = [anchor(None, p.root.fp(), AnchorState::Approved)];
    let o = build(&p.leaf, &pool, &a, now());
    assert_eq!(
        reached(&o),
        Some((AnchorState::Approved, p.root.fp(), 3)),
        "{o:?}"
    );
    // Pinning the intermediate works too.
    let a = [anchor(None, p.int.fp(), AnchorState::Candidate)];
    let o = build(&p.leaf, &pool, &a, now());
    assert_eq!(
        reached(&o),
        Some((AnchorState::Candidate, p.int.fp(), 2)),
        "{o:?}"
    );
    // Pinning the leaf itself.
    let a = [anchor(None, p.leaf.fp(), AnchorState::Approved)];
    let o = build(&p.leaf, &[], &a, now());
    assert_eq!(reached(&o), Some((AnchorState::Approved, p.leaf.fp(), 1)));
    // Not carried by the package: not reached.
    let o = build(
        &p.leaf,
        &[p.int.der.clone()],
        &[anchor(None, p.root.fp(), AnchorState::Approved)],
        now(),
    );
    assert!(matches!(o, ChainOutcome::NoAnchor { .. }), "{o:?}");
}

#[test]
fn validity_is_checked_at_the_given_time() {
    let p = pki(P256);
    let pool = [p.int.der.clone()];
    let a = [stored(&p.root, AnchorState::Approved)];
    let o = build(&p.leaf, &pool, &a, at_days(200));
    assert!(
        matches!(error(&o), Some(ChainError::Expired { subject, .. }) if subject.contains("Leaf")),
        "{o:?}"
    );
    let o = build(&p.leaf, &pool, &a, at_days(-5));
    assert!(
        matches!(error(&o), Some(ChainError::NotYetValid { .. })),
        "{o:?}"
    );
    // Expired with no anchor at all is still invalid, not unknown.
    let o = build(&p.leaf, &pool, &[], at_days(200));
    assert!(
        matches!(error(&o), Some(ChainError::Expired { .. })),
        "{o:?}"
    );
}

#[test]
fn leaf_eku_policy() {
    let p = pki(P256);
    let a = [stored(&p.root, AnchorState::Approved)];
    let mut params = leaf_params("TLS");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let tls = p.int.issue(params, P256);
    let o = build(&tls, &[p.int.der.clone()], &a, now());
    assert_eq!(error(&o), Some(&ChainError::LeafNotForCodeSigning));
    let mut params = leaf_params("No EKU");
    params.extended_key_usages.clear();
    let none = p.int.issue(params, P256);
    let o = build(&none, &[p.int.der.clone()], &a, now());
    assert_eq!(error(&o), Some(&ChainError::LeafNotForCodeSigning));
    // An intermediate whose EKU excludes code signing breaks the chain.
    let mut int_params = ca_params("TLS-only CA", None);
    int_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let tls_ca = p.root.issue(int_params, P256);
    let leaf = tls_ca.issue(leaf_params("Leaf"), P256);
    let o = build(&leaf, &[tls_ca.der.clone()], &a, now());
    assert!(error(&o).is_some(), "{o:?}");
}

#[test]
fn ca_and_path_length_constraints() {
    let p = pki(P256);
    let a = [stored(&p.root, AnchorState::Approved)];
    // An issuer that is not a CA.
    let not_ca = p.int.issue(leaf_params("Not a CA"), P256);
    let leaf = not_ca.issue(leaf_params("Leaf"), P256);
    let o = build(&leaf, &[not_ca.der.clone(), p.int.der.clone()], &a, now());
    assert!(error(&o).is_some(), "{o:?}");
    // pathlen 0 on the intermediate, then a sub-CA.
    let sub = p.int.issue(ca_params("Sub CA", None), P256);
    let leaf = sub.issue(leaf_params("Leaf"), P256);
    let o = build(&leaf, &[sub.der.clone(), p.int.der.clone()], &a, now());
    assert_eq!(error(&o), Some(&ChainError::PathLenExceeded), "{o:?}");
    // The same defect is reported when no anchor is stored (own-chain judgement).
    let o = build(
        &leaf,
        &[sub.der.clone(), p.int.der.clone(), p.root.der.clone()],
        &[],
        now(),
    );
    assert_eq!(error(&o), Some(&ChainError::PathLenExceeded), "{o:?}");
}

#[test]
fn garbage_in_the_pool_does_not_panic() {
    let p = pki(P256);
    let pool = [
        CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]),
        CertificateDer::from(Vec::new()),
        p.int.der.clone(),
    ];
    let o = build(
        &p.leaf,
        &pool,
        &[stored(&p.root, AnchorState::Approved)],
        now(),
    );
    assert_eq!(
        reached(&o).map(|r| r.0),
        Some(AnchorState::Approved),
        "{o:?}"
    );
    let junk_leaf = CertificateDer::from(b"junk".to_vec());
    let o = build_chain(&ChainInput {
        leaf: &junk_leaf,
        pool: &[],
        anchors: &[],
        at: now(),
    });
    assert!(matches!(error(&o), Some(ChainError::Malformed(_))));
}

#[test]
fn unknown_signer_still_shows_the_packages_own_chain() {
    let p = pki(P256);
    let len = |o: &ChainOutcome| match o {
        ChainOutcome::NoAnchor { path } => path.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(len(&build(&p.leaf, &[p.int.der.clone()], &[], now())), 2);
    let both = [p.root.der.clone(), p.int.der.clone()];
    assert_eq!(len(&build(&p.leaf, &both, &[], now())), 3);
}
