//! Unit tests for `build_chain` with rcgen-made hierarchies (CONTRACT §2 cases).

// Pools written as `&[x.der.clone()]` read better than `std::slice::from_ref` here.
#![allow(clippy::cloned_ref_to_slice_refs)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose as Eku, IsCa, Issuer,
    KeyPair, SignatureAlgorithm,
};
use rustls_pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;

use super::*;
use crate::trust::{Anchor, AnchorState, Fingerprint};

const P256: &SignatureAlgorithm = &rcgen::PKCS_ECDSA_P256_SHA256;

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
}

impl Ca {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
    fn fp(&self) -> Fingerprint {
        Fingerprint::of(&self.der)
    }
}

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2035, 1, 1);
    p.use_authority_key_identifier_extension = true;
    p
}

fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut p = params(cn);
    p.is_ca = IsCa::Ca(path_len.map_or(
        BasicConstraints::Unconstrained,
        BasicConstraints::Constrained,
    ));
    p
}

fn root(cn: &str, alg: &'static SignatureAlgorithm) -> Ca {
    let key = KeyPair::generate_for(alg).unwrap();
    let params = ca_params(cn, None);
    let der = params.self_signed(&key).unwrap().der().clone();
    Ca { params, key, der }
}

fn sub(params: CertificateParams, alg: &'static SignatureAlgorithm, by: &Ca) -> Ca {
    let key = KeyPair::generate_for(alg).unwrap();
    let der = params.signed_by(&key, &by.issuer()).unwrap().der().clone();
    Ca { params, key, der }
}

/// The same subject and key as `ca`, certified by `by` (a cross-sign).
fn cross(ca: &Ca, by: &Ca) -> CertificateDer<'static> {
    ca.params
        .signed_by(&ca.key, &by.issuer())
        .unwrap()
        .der()
        .clone()
}

fn leaf_with(
    by: &Ca,
    alg: &'static SignatureAlgorithm,
    f: impl FnOnce(&mut CertificateParams),
) -> CertificateDer<'static> {
    let mut p = params("Vendor firmware signer");
    p.extended_key_usages = vec![Eku::CodeSigning];
    f(&mut p);
    sub(p, alg, by).der
}

fn leaf(by: &Ca) -> CertificateDer<'static> {
    leaf_with(by, P256, |_| {})
}

fn at() -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(rcgen::date_time_ymd(2030, 1, 1).unix_timestamp()).unwrap(),
    ))
}

fn anchor(der: &CertificateDer<'_>, state: AnchorState) -> Anchor {
    let mut a = fp_anchor(Fingerprint::of(der), state);
    a.cert_der = Some(der.to_vec());
    a
}

fn fp_anchor(sha256: Fingerprint, state: AnchorState) -> Anchor {
    Anchor {
        sha256,
        vendor: "dten".into(),
        state,
        source: "test".into(),
        first_seen: OffsetDateTime::UNIX_EPOCH,
        updated: OffsetDateTime::UNIX_EPOCH,
        cert_der: None,
        subject: None,
        not_after: None,
        revoked_reason: None,
    }
}

fn run(
    leaf: &CertificateDer<'static>,
    pool: &[CertificateDer<'static>],
    anchors: &[Anchor],
) -> ChainOutcome {
    build_chain(&ChainInput {
        leaf,
        pool,
        anchors,
        at: at(),
    })
}

#[track_caller]
fn reached(outcome: &ChainOutcome) -> (AnchorState, Fingerprint, usize) {
    match outcome {
        ChainOutcome::Reached {
            state,
            anchor,
            path,
        } => (*state, *anchor, path.len()),
        other => panic!("expected Reached, got {other:?}"),
    }
}

#[track_caller]
fn invalid(outcome: &ChainOutcome) -> ChainError {
    match outcome {
        ChainOutcome::Invalid { error, path } => {
            assert!(!path.is_empty());
            error.clone()
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// root -> intermediate (CA, no EKU) -> leaf (codeSigning).
fn simple() -> (Ca, Ca, CertificateDer<'static>) {
    let r = root("Vendor Root", P256);
    let i = sub(ca_params("Vendor CA", None), P256, &r);
    let l = leaf(&i);
    (r, i, l)
}

#[test]
fn approved_root_is_reached() {
    let (r, i, l) = simple();
    let out = run(
        &l,
        &[i.der.clone()],
        &[anchor(&r.der, AnchorState::Approved)],
    );
    assert_eq!(reached(&out), (AnchorState::Approved, r.fp(), 3));
    let ChainOutcome::Reached { path, .. } = out else {
        unreachable!()
    };
    assert_eq!(path, vec![l, i.der, r.der]);
}

#[test]
fn candidate_root_is_pending() {
    let (r, i, l) = simple();
    let out = run(
        &l,
        &[i.der.clone()],
        &[anchor(&r.der, AnchorState::Candidate)],
    );
    assert_eq!(reached(&out), (AnchorState::Candidate, r.fp(), 3));
}

#[test]
fn approved_wins_over_candidate_through_a_cross_sign() {
    let old = root("Old Root", P256);
    let new = root("New Root", P256);
    let i = sub(ca_params("Vendor CA 2026", None), P256, &new);
    let l = leaf(&i);
    let new_by_old = cross(&new, &old);
    let anchors = [
        anchor(&new.der, AnchorState::Candidate),
        anchor(&old.der, AnchorState::Approved),
    ];
    let out = run(&l, &[i.der.clone(), new_by_old.clone()], &anchors);
    assert_eq!(reached(&out), (AnchorState::Approved, old.fp(), 4));
    // Without the cross-sign only the candidate is reachable.
    let out = run(&l, &[i.der.clone()], &anchors);
    assert_eq!(reached(&out), (AnchorState::Candidate, new.fp(), 3));
}

#[test]
fn rotation_package_carrying_its_new_root_cross_signed() {
    // Old root approved, new root a candidate learnt from an advisory; the package
    // carries leaf + new intermediate + new root cross-signed by the old root.
    let old = root("DTEN Root 2020", P256);
    let new = root("DTEN Root 2026", &rcgen::PKCS_ECDSA_P384_SHA384);
    let i = sub(ca_params("DTEN Code Signing CA 2026", Some(0)), P256, &new);
    let l = leaf(&i);
    let pool = [i.der.clone(), cross(&new, &old)];
    let anchors = [
        anchor(&old.der, AnchorState::Approved),
        anchor(&new.der, AnchorState::Candidate),
    ];
    assert_eq!(reached(&run(&l, &pool, &anchors)).0, AnchorState::Approved);
}

#[test]
fn revoked_anchor_is_invalid() {
    let (r, i, l) = simple();
    let out = run(
        &l,
        &[i.der.clone()],
        &[anchor(&r.der, AnchorState::Revoked)],
    );
    assert_eq!(
        invalid(&out),
        ChainError::Revoked {
            fingerprint: r.fp()
        }
    );
    // Revoked wins over another entry approving the same certificate.
    let both = [
        anchor(&r.der, AnchorState::Approved),
        fp_anchor(r.fp(), AnchorState::Revoked),
    ];
    let out = run(&l, &[i.der.clone()], &both);
    assert_eq!(
        invalid(&out),
        ChainError::Revoked {
            fingerprint: r.fp()
        }
    );
}

#[test]
fn revoked_intermediate_is_avoided_when_a_clean_cross_signed_path_exists() {
    let a = root("Root A", P256);
    let b = root("Root B", P256);
    let i_by_a = sub(ca_params("Vendor CA", None), P256, &a);
    let i_by_b = cross(&i_by_a, &b);
    let b_by_a = cross(&b, &a);
    let l = leaf(&i_by_a);
    let anchors = [
        anchor(&a.der, AnchorState::Approved),
        fp_anchor(Fingerprint::of(&i_by_a.der), AnchorState::Revoked),
    ];
    let pool = [i_by_a.der.clone(), i_by_b.clone(), b_by_a.clone()];
    let out = run(&l, &pool, &anchors);
    assert_eq!(reached(&out), (AnchorState::Approved, a.fp(), 4));
    let ChainOutcome::Reached { path, .. } = out else {
        unreachable!()
    };
    assert_eq!(path, vec![l.clone(), i_by_b, b_by_a, a.der.clone()]);
    // Without the alternative, the revoked intermediate makes the chain invalid.
    let out = run(&l, &[i_by_a.der.clone()], &anchors);
    assert_eq!(
        invalid(&out),
        ChainError::Revoked {
            fingerprint: i_by_a.fp()
        }
    );
}

#[test]
fn unknown_root_is_no_anchor() {
    let (r, i, l) = simple();
    let other = root("Someone Else", P256);
    let anchors = [anchor(&other.der, AnchorState::Approved)];
    assert_eq!(
        no_anchor_len(&run(&l, &[i.der.clone(), r.der.clone()], &anchors)),
        3
    );
    assert_eq!(no_anchor_len(&run(&l, &[i.der.clone()], &anchors)), 2);
    assert_eq!(no_anchor_len(&run(&l, &[], &[])), 1);
}

#[test]
fn expired_and_not_yet_valid_leaf() {
    let (r, i, _) = simple();
    let anchors = [anchor(&r.der, AnchorState::Approved)];
    let expired = leaf_with(&i, P256, |p| p.not_after = rcgen::date_time_ymd(2029, 6, 1));
    let err = invalid(&run(&expired, &[i.der.clone()], &anchors));
    assert!(
        matches!(&err, ChainError::Expired { subject, not_after }
        if subject.contains("Vendor firmware signer") && not_after.starts_with("2029-06-01")),
        "{err:?}"
    );
    // Even with no anchor at all.
    assert!(matches!(
        invalid(&run(&expired, &[], &[])),
        ChainError::Expired { .. }
    ));
    let early = leaf_with(&i, P256, |p| {
        p.not_before = rcgen::date_time_ymd(2031, 1, 1)
    });
    assert!(matches!(
        invalid(&run(&early, &[i.der.clone()], &anchors)),
        ChainError::NotYetValid { .. }
    ));
}

#[test]
fn expired_intermediate_is_named() {
    let r = root("Vendor Root", P256);
    let mut p = ca_params("Old Vendor CA", None);
    p.not_after = rcgen::date_time_ymd(2029, 1, 1);
    let i = sub(p, P256, &r);
    let l = leaf(&i);
    for anchors in [vec![anchor(&r.der, AnchorState::Approved)], vec![]] {
        let err = invalid(&run(&l, &[i.der.clone(), r.der.clone()], &anchors));
        assert!(
            matches!(&err, ChainError::Expired { subject, .. } if subject.contains("Old Vendor CA")),
            "{err:?}"
        );
    }
}

#[test]
fn leaf_eku_must_include_code_signing() {
    let (r, i, _) = simple();
    let anchors = [anchor(&r.der, AnchorState::Approved)];
    let server = leaf_with(&i, P256, |p| p.extended_key_usages = vec![Eku::ServerAuth]);
    let none = leaf_with(&i, P256, |p| p.extended_key_usages = vec![]);
    for l in [server, none] {
        assert_eq!(
            invalid(&run(&l, &[i.der.clone()], &anchors)),
            ChainError::LeafNotForCodeSigning
        );
        assert_eq!(
            invalid(&run(&l, &[], &[])),
            ChainError::LeafNotForCodeSigning
        );
    }
}

#[test]
fn intermediate_eku_excluding_code_signing() {
    let r = root("Vendor Root", P256);
    let mut p = ca_params("TLS CA", None);
    p.extended_key_usages = vec![Eku::ServerAuth];
    let i = sub(p, P256, &r);
    let l = leaf(&i);
    let out = run(
        &l,
        &[i.der.clone()],
        &[anchor(&r.der, AnchorState::Approved)],
    );
    assert_eq!(invalid(&out), ChainError::IssuerEkuExcludesCodeSigning);
}

#[test]
fn issuer_that_is_not_a_ca() {
    let r = root("Vendor Root", P256);
    let mut p = params("Not a CA");
    p.is_ca = IsCa::ExplicitNoCa;
    let i = sub(p, P256, &r);
    let l = leaf(&i);
    let anchors = [anchor(&r.der, AnchorState::Approved)];
    assert_eq!(
        invalid(&run(&l, &[i.der.clone()], &anchors)),
        ChainError::IssuerNotCa
    );
    // Judged on the package's own chain too.
    assert_eq!(
        invalid(&run(&l, &[i.der.clone(), r.der.clone()], &[])),
        ChainError::IssuerNotCa
    );
}

#[test]
fn path_length_zero_violated() {
    let r = root("Vendor Root", P256);
    let i1 = sub(ca_params("Policy CA", Some(0)), P256, &r);
    let i2 = sub(ca_params("Issuing CA", None), P256, &i1);
    let l = leaf(&i2);
    let pool = [i2.der.clone(), i1.der.clone()];
    let out = run(&l, &pool, &[anchor(&r.der, AnchorState::Approved)]);
    assert_eq!(invalid(&out), ChainError::PathLenExceeded);
}

#[test]
fn fingerprint_only_anchor_reached_by_a_package_certificate() {
    let (r, i, l) = simple();
    let anchors = [fp_anchor(i.fp(), AnchorState::Candidate)];
    let out = run(&l, &[i.der.clone(), r.der.clone()], &anchors);
    assert_eq!(reached(&out), (AnchorState::Candidate, i.fp(), 2));
    let anchors = [fp_anchor(r.fp(), AnchorState::Approved)];
    let out = run(&l, &[i.der.clone(), r.der.clone()], &anchors);
    assert_eq!(reached(&out), (AnchorState::Approved, r.fp(), 3));
    // Not carried by the package: nothing to reach.
    assert!(matches!(
        run(&l, &[i.der.clone()], &anchors),
        ChainOutcome::NoAnchor { .. }
    ));
}

#[test]
fn pinned_leaf() {
    let (_, i, l) = simple();
    let lf = Fingerprint::of(&l);
    let out = run(&l, &[], &[fp_anchor(lf, AnchorState::Candidate)]);
    assert_eq!(reached(&out), (AnchorState::Candidate, lf, 1));
    let out = run(&l, &[], &[anchor(&l, AnchorState::Approved)]);
    assert_eq!(reached(&out), (AnchorState::Approved, lf, 1));
    let out = run(&l, &[], &[fp_anchor(lf, AnchorState::Revoked)]);
    assert_eq!(invalid(&out), ChainError::Revoked { fingerprint: lf });
    let expired = leaf_with(&i, P256, |p| p.not_after = rcgen::date_time_ymd(2029, 6, 1));
    let out = run(
        &expired,
        &[],
        &[fp_anchor(Fingerprint::of(&expired), AnchorState::Approved)],
    );
    assert!(matches!(invalid(&out), ChainError::Expired { .. }));
}

#[test]
fn ed25519_and_p384_chains() {
    for alg in [&rcgen::PKCS_ED25519, &rcgen::PKCS_ECDSA_P384_SHA384] {
        let r = root("Vendor Root", alg);
        let i = sub(ca_params("Vendor CA", None), alg, &r);
        let l = leaf_with(&i, alg, |_| {});
        let out = run(
            &l,
            &[i.der.clone()],
            &[anchor(&r.der, AnchorState::Approved)],
        );
        assert_eq!(reached(&out).0, AnchorState::Approved);
    }
}

#[test]
fn garbage_in_the_pool_is_ignored() {
    let (r, i, l) = simple();
    let pool = [
        CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]),
        CertificateDer::from(b"junk".to_vec()),
        i.der.clone(),
    ];
    let out = run(&l, &pool, &[anchor(&r.der, AnchorState::Approved)]);
    assert_eq!(reached(&out).0, AnchorState::Approved);
    assert!(matches!(
        run(&l, &pool[..2], &[]),
        ChainOutcome::NoAnchor { .. }
    ));
}

#[test]
fn garbage_leaf_is_malformed() {
    let junk = CertificateDer::from(vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        invalid(&run(&junk, &[], &[])),
        ChainError::Malformed(_)
    ));
}

#[test]
fn validate_path_layer() {
    let (r, i, l) = simple();
    let path = validate_path(
        &l,
        &[i.der.clone()],
        &[r.der.clone()],
        at(),
        EkuPolicy::CODE_SIGNING,
    )
    .unwrap();
    assert_eq!(path.len(), 3);
    let server = leaf_with(&i, P256, |p| p.extended_key_usages = vec![Eku::ServerAuth]);
    assert!(validate_path(
        &server,
        &[i.der.clone()],
        &[r.der.clone()],
        at(),
        EkuPolicy::CODE_SIGNING
    )
    .is_err());
    assert!(validate_path(
        &server,
        &[i.der.clone()],
        &[r.der.clone()],
        at(),
        EkuPolicy::Off
    )
    .is_ok());
    assert!(validate_path(&l, &[], &[r.der.clone()], at(), EkuPolicy::Off).is_err());
}

#[test]
fn expired_anchor_is_refused_unless_another_path_exists() {
    let key = KeyPair::generate_for(P256).unwrap();
    let mut p = ca_params("Old Vendor Root", None);
    p.not_after = rcgen::date_time_ymd(2029, 1, 1);
    let der = p.self_signed(&key).unwrap().der().clone();
    let old = Ca {
        params: p,
        key,
        der,
    };
    let i = sub(ca_params("Vendor CA", None), P256, &old);
    let l = leaf(&i);
    let anchors = [anchor(&old.der, AnchorState::Approved)];
    let err = invalid(&run(&l, &[i.der.clone()], &anchors));
    assert!(
        matches!(&err, ChainError::Expired { subject, .. } if subject.contains("Old Vendor Root")),
        "{err:?}"
    );
    // The same CA cross-signed by a valid approved root still gets there.
    let new = root("New Vendor Root", P256);
    let anchors = [
        anchor(&old.der, AnchorState::Approved),
        anchor(&new.der, AnchorState::Approved),
    ];
    let mut renewed = old.params.clone();
    renewed.not_after = rcgen::date_time_ymd(2035, 1, 1);
    let old_by_new = renewed
        .signed_by(&old.key, &new.issuer())
        .unwrap()
        .der()
        .clone();
    let out = run(&l, &[i.der.clone(), old_by_new], &anchors);
    assert_eq!(reached(&out), (AnchorState::Approved, new.fp(), 4));
}

#[test]
fn mutated_certificates_never_panic() {
    let (r, i, l) = simple();
    let anchors = [anchor(&r.der, AnchorState::Approved)];
    for pos in 0..l.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = l.to_vec();
            bad[pos] ^= flip;
            let bad = CertificateDer::from(bad);
            let _ = run(&bad, &[i.der.clone()], &anchors);
            let _ = run(&l, &[bad.clone(), i.der.clone()], &anchors);
            let _ = inspect(&bad);
            let _ = crate::trust::import::parse_certificates(&bad);
        }
    }
}

/// The length of the path of a `NoAnchor` outcome.
#[track_caller]
fn no_anchor_len(o: &ChainOutcome) -> usize {
    match o {
        ChainOutcome::NoAnchor { path } => path.len(),
        other => panic!("expected NoAnchor, got {other:?}"),
    }
}
