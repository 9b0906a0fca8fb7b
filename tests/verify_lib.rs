//! The library's verify API with a real store: fingerprint-only anchors, advisories
//! cited by a verdict, and purity of `decide` (same evidence + time = same report).

mod common;

use common::{Alg, Env, Pki, SigForm, ZipSpec};
use time::OffsetDateTime;
use trustwatch::advisory::{Finding, FindingKind};
use trustwatch::store::{Store, StoreOptions};
use trustwatch::trust::{Anchor, AnchorState, AuditAction, AuditDraft, Fingerprint};
use trustwatch::verify::{self, PackageInput, Verdict};

fn limits() -> trustwatch::package::Limits {
    trustwatch::package::Limits {
        max_entry: 1 << 30,
        max_total: 4 << 30,
        max_entries: 10_000,
        max_metadata: 16 << 20,
    }
}

fn now() -> rustls_pki_types::UnixTime {
    rustls_pki_types::UnixTime::now()
}

fn fingerprint_only(fp: Fingerprint, state: AnchorState) -> Anchor {
    let t = OffsetDateTime::now_utc();
    Anchor {
        sha256: fp,
        vendor: "dten".into(),
        state,
        source: "https://forum.dten.example/t/4242".into(),
        first_seen: t,
        updated: t,
        cert_der: None,
        subject: None,
        not_after: None,
        revoked_reason: None,
    }
}

fn draft() -> AuditDraft {
    AuditDraft {
        at: OffsetDateTime::now_utc(),
        actor: "test".into(),
        action: AuditAction::Added,
        reason: None,
        source: Some("test".into()),
    }
}

#[test]
fn an_anchor_known_by_fingerprint_alone_is_reached_by_a_matching_certificate() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    let zip = env.path("pkg.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&zip);
    let evidence = verify::gather(PackageInput::Zip(&zip), &limits());

    for (state, expected) in [
        (AnchorState::Candidate, Verdict::Pending),
        (AnchorState::Approved, Verdict::Trusted),
        (AnchorState::Revoked, Verdict::Invalid),
    ] {
        let fp: Fingerprint = pki.intermediate.sha256().parse().unwrap();
        let snapshot = trustwatch::trust::TrustSnapshot {
            anchors: vec![fingerprint_only(fp, state)],
        };
        let report = verify::decide(&evidence, &snapshot, None, now());
        assert_eq!(report.verdict, expected, "{state:?}: {:?}", report.reasons);
        if expected != Verdict::Invalid {
            assert_eq!(report.anchor.as_ref().unwrap().sha256, fp);
            assert_eq!(report.chain.last().unwrap().sha256, fp);
        }
    }
    // No anchor at all: unknown signer; decide is pure, so twice gives the same report.
    let empty = trustwatch::trust::TrustSnapshot::default();
    let a = verify::decide(&evidence, &empty, None, now());
    let b = verify::decide(&evidence, &empty, None, now());
    assert_eq!(a.verdict, Verdict::UnknownSigner);
    assert_eq!(a, b);
}

#[test]
fn verify_cites_stored_advisories_that_mention_the_key() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    let zip = env.path("pkg.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&zip);
    {
        let store = Store::open(&env.path("data"), StoreOptions::default()).unwrap();
        let fp: Fingerprint = pki.root.sha256().parse().unwrap();
        let anchor = fingerprint_only(fp, AnchorState::Candidate);
        store.apply(None, &anchor, &draft()).unwrap();
        let finding = Finding {
            kind: FindingKind::CaRotation,
            vendor: "dten".into(),
            title: "New code-signing CA for DTEN packages".into(),
            url: "https://forum.dten.example/t/code-signing-ca-rotation/4242".into(),
            published: Some(OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_300)),
            fingerprints: vec![pki.intermediate.sha256().parse().unwrap()],
            sha1_fingerprints: Vec::new(),
            certificates: Vec::new(),
            cves: Vec::new(),
            config_keys: Vec::new(),
            summary: "We rotated our code-signing CA.".into(),
            names: Vec::new(),
        };
        assert!(store.put_finding(&finding).unwrap());
        let unrelated = Finding {
            title: "Unrelated advisory".into(),
            url: "https://dten.example/a/1".into(),
            fingerprints: vec![Fingerprint::of(b"something else")],
            ..finding.clone()
        };
        assert!(store.put_finding(&unrelated).unwrap());
        store.flush().unwrap();
    }
    // The root is known by fingerprint alone and the package does not carry it, so the
    // key is unknown; the advisory is cited by the intermediate's fingerprint.
    let (code, r) = env.verify(&[zip.to_str().unwrap()]);
    assert_eq!(code, 3, "{}", common::reasons(&r));
    let advisories = r["advisories"].as_array().unwrap();
    assert_eq!(advisories.len(), 1, "{advisories:?}");
    assert_eq!(
        advisories[0]["title"],
        "New code-signing CA for DTEN packages"
    );
    assert!(advisories[0]["published"]
        .as_str()
        .unwrap()
        .starts_with("2025"));
    assert!(common::reasons(&r).contains("announced in https://forum.dten.example"));

    let out = env.run(&["escalate", zip.to_str().unwrap()]);
    common::assert_ok(&out);
    assert!(common::stdout(&out).contains("New code-signing CA for DTEN packages"));
}
