//! `trustwatch escalate`: the script names the keys, cites advisories, passes shellcheck
//! and, run with openssl, tells a matching fingerprint from a wrong one.

mod common;

use std::process::Command;

use common::{assert_ok, stdout, Alg, Env, Pki, SigForm, ZipSpec};

fn shellcheck(script: &std::path::Path) {
    let out = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .arg(script)
        .output()
        .expect("shellcheck is required for the tests (apt-get install shellcheck)");
    assert!(
        out.status.success(),
        "shellcheck: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn escalation_script_for_an_unknown_package() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    let zip = env.path("pkg.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&zip);
    let out = env.run(&["escalate", zip.to_str().unwrap(), "--vendor", "dten"]);
    assert_ok(&out);
    let script = stdout(&out);
    assert!(script.starts_with("#!/bin/sh\n"));
    assert!(script.contains(&pki.leaf.sha256()));
    assert!(script.contains(&pki.intermediate.sha256()));
    assert!(script.contains("security@dten.example"));
    assert!(script.contains("DTEN Test Release Signing"));
    assert!(script.contains("openssl x509"));
    assert!(script.contains("Verdict: unknown_signer"));
    let path = env.write("escalate.sh", &script);
    shellcheck(&path);

    // Run it: no argument explains, the right fingerprint matches, a wrong one does not.
    let run = |arg: Option<&str>| {
        let mut c = Command::new("sh");
        c.arg(&path);
        if let Some(a) = arg {
            c.arg(a);
        }
        c.output().unwrap()
    };
    let out = run(None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // openssl prints each key's fingerprint as vendors read it out.
    let text = stdout(&out);
    assert!(
        text.contains(&common::upper_colons(&pki.leaf.sha256())),
        "{text}"
    );
    let upper_colons = common::upper_colons(&pki.intermediate.sha256());
    let out = run(Some(&upper_colons));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("MATCH"));
    let out = run(Some(&"00".repeat(32)));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NO MATCH"));
}

#[test]
fn escalation_script_for_a_fingerprint() {
    let pki = Pki::new(Alg::P384);
    let env = Env::new();
    env.trust("root", &pki.root.der, "candidate");
    let out = env.run(&["escalate", &pki.root.sha256()]);
    assert_ok(&out);
    let script = stdout(&out);
    assert!(script.contains("candidate"));
    assert!(script.contains("BEGIN CERTIFICATE"));
    assert!(script.contains("security@dten.example"));
    let path = env.write("e.sh", &script);
    shellcheck(&path);
    let out = Command::new("sh")
        .arg(&path)
        .arg(pki.root.sha256())
        .output()
        .unwrap();
    assert!(out.status.success());

    // An unknown fingerprint still gets a script (known by fingerprint only).
    let out = env.run(&["escalate", &"cd".repeat(32)]);
    assert_ok(&out);
    let path = env.write("u.sh", stdout(&out));
    shellcheck(&path);
    // Neither a file nor a fingerprint: a usage error.
    let out = env.run(&["escalate", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}
