//! The committed OpenSSL fixtures (`tests/fixtures/pki/`, made by
//! `tests/fixtures/gen/make-pki.sh`) through the real binary: every signature form a
//! vendor's openssl produces, the refusals, and a cross-signed rotation.

mod common;

use std::path::PathBuf;

use common::{reasons, verdict, Env};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pki")).join(name)
}

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

fn env_trusting(roots: &[(&str, &str)]) -> Env {
    let env = Env::new();
    for (file, state) in roots {
        let out = env.run(&[
            "trust",
            "add",
            &path(file),
            "--vendor",
            "dten",
            "--state",
            state,
        ]);
        common::assert_ok(&out);
    }
    env
}

#[test]
fn every_openssl_cms_form_verifies() {
    let env = env_trusting(&[("root.pem", "approved")]);
    for sig in [
        "cms-rsa.der.p7s",
        "cms-rsa.pem.p7s",
        "cms-rsa-keyid.p7s",
        "cms-rsa-noattr.p7s",
        "cms-rsa-pss.p7s",
        "cms-p256.p7s",
        "cms-p384-sha384.p7s",
    ] {
        let (code, r) = env.verify(&[&path("manifest.json"), "--signature", &path(sig)]);
        assert_eq!(
            (code, verdict(&r)),
            (0, "trusted"),
            "{sig}: {}",
            reasons(&r)
        );
        assert_eq!(r["anchor"]["sha256"], r["chain"][2]["sha256"], "{sig}");
    }
    // The same signatures over altered content are invalid.
    let altered = env.write(
        "manifest.json",
        b"{\"name\":\"fixture\",\"version\":\"6.6\",\"files\":[]}\n",
    );
    for sig in [
        "cms-rsa.der.p7s",
        "cms-rsa-noattr.p7s",
        "cms-rsa-pss.p7s",
        "cms-p384-sha384.p7s",
    ] {
        let (code, r) = env.verify(&[altered.to_str().unwrap(), "--signature", &path(sig)]);
        assert_eq!((code, verdict(&r)), (1, "invalid"), "{sig}");
    }
}

#[test]
fn openssl_refusals() {
    let env = env_trusting(&[("root.pem", "approved")]);
    let cases = [
        ("cms-rsa-sha1.p7s", "SHA-1"),
        ("cms-rsa-stream.p7s", "-stream"),
        ("cms-tls-leaf.p7s", "code signing"),
    ];
    for (sig, why) in cases {
        let (code, r) = env.verify(&[&path("manifest.json"), "--signature", &path(sig)]);
        assert_eq!((code, verdict(&r)), (1, "invalid"), "{sig}");
        assert!(reasons(&r).contains(why), "{sig}: {}", reasons(&r));
    }
}

#[test]
fn raw_openssl_signatures_verify() {
    let env = env_trusting(&[("root.pem", "approved")]);
    for (sig, leaf) in [
        ("raw-rsa.sig", "leaf-rsa.pem"),
        ("raw-rsa-pss.sig", "leaf-rsa.pem"),
        ("raw-p256.sig", "leaf-p256.pem"),
        ("raw-p384.sig", "leaf-p384.pem"),
        ("raw-ed25519.sig", "leaf-ed25519.pem"),
    ] {
        let bundle = format!(
            "{}{}",
            std::fs::read_to_string(fixture(leaf)).unwrap(),
            std::fs::read_to_string(fixture("intermediate.pem")).unwrap()
        );
        let certs = env.write("certs.pem", bundle);
        let (code, r) = env.verify(&[
            &path("manifest.json"),
            "--signature",
            &path(sig),
            "--certs",
            certs.to_str().unwrap(),
        ]);
        assert_eq!(
            (code, verdict(&r)),
            (0, "trusted"),
            "{sig}: {}",
            reasons(&r)
        );
    }
}

#[test]
fn cross_signed_rotation() {
    let env = env_trusting(&[("old-root.pem", "approved"), ("new-root.pem", "candidate")]);
    let (code, r) = env.verify(&[
        &path("manifest.json"),
        "--signature",
        &path("cms-rotation.p7s"),
    ]);
    assert_eq!((code, verdict(&r)), (4, "pending"), "{}", reasons(&r));
    let (code, r) = env.verify(&[
        &path("manifest.json"),
        "--signature",
        &path("cms-rotation.p7s"),
        "--certs",
        &path("rotation-chain.pem"),
    ]);
    assert_eq!((code, verdict(&r)), (0, "trusted"), "{}", reasons(&r));
    let old_root = trustwatch::trust::import::parse_certificates(
        &std::fs::read(fixture("old-root.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["anchor"]["sha256"], common::sha256_hex(&old_root[0]));
    assert_eq!(r["chain"].as_array().unwrap().len(), 4);
}

/// Where openssl is installed, `openssl cms -verify` agrees on every good CMS fixture.
#[test]
fn openssl_agrees_on_the_good_fixtures() {
    for sig in [
        "cms-rsa.der.p7s",
        "cms-rsa-keyid.p7s",
        "cms-rsa-noattr.p7s",
        "cms-rsa-pss.p7s",
        "cms-p256.p7s",
        "cms-p384-sha384.p7s",
    ] {
        let out = std::process::Command::new("openssl")
            .args([
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ])
            .arg("-in")
            .arg(fixture(sig))
            .arg("-content")
            .arg(fixture("manifest.json"))
            .arg("-CAfile")
            .arg(fixture("root.pem"))
            .output()
            .expect("openssl is required for the tests");
        assert!(
            out.status.success(),
            "{sig}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
