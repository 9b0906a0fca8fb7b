//! `trustwatch trust ...` and `store export|import` end to end, on a real store.

mod common;

use common::{assert_ok, stdout, Alg, Env, Identity};

fn list_json(env: &Env, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["trust", "list", "--format", "json"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    assert_ok(&out);
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
}

#[test]
fn add_list_approve_revoke_with_audit() {
    let env = Env::new();
    let root = Identity::root("DTEN Root CA 2019", Alg::P256);
    let new_root = Identity::root("DTEN Code Signing Root 2026", Alg::P384);
    env.trust("root", &root.der, "approved");
    env.trust("new-root", &new_root.der, "candidate");

    let rows = list_json(&env, &[]);
    assert_eq!(rows.len(), 2);
    let row = rows.iter().find(|r| r["sha256"] == root.sha256()).unwrap();
    assert_eq!(row["vendor"], "dten");
    assert_eq!(row["state"], "approved");
    assert!(row["source"].as_str().unwrap().ends_with("root.pem"));
    assert!(row["first_seen"].as_str().unwrap().contains('T'));
    assert!(row["subject"]
        .as_str()
        .unwrap()
        .contains("DTEN Root CA 2019"));
    assert!(row["not_after"].as_str().is_some());
    assert!(list_json(&env, &["--vendor", "acme"]).is_empty());

    // Fingerprints are accepted upper case with colons.
    let colons = common::upper_colons(&new_root.sha256());
    assert_ok(&env.run(&["trust", "approve", &colons, "--by", "alice"]));
    assert_ok(&env.run(&[
        "trust",
        "revoke",
        &root.sha256(),
        "--reason",
        "superseded",
        "--by",
        "bob",
    ]));
    let rows = list_json(&env, &[]);
    let state = |fp: &str| {
        rows.iter().find(|r| r["sha256"] == fp).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state(&new_root.sha256()), "approved");
    assert_eq!(state(&root.sha256()), "revoked");

    let out = env.run(&["trust", "audit", "--format", "json"]);
    assert_ok(&out);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit.len(), 4, "{audit:#?}");
    assert_eq!(audit[2]["actor"], "alice");
    assert_eq!(audit[2]["action"], "approved");
    assert_eq!(audit[2]["from_state"], "candidate");
    assert_eq!(audit[3]["actor"], "bob");
    assert_eq!(audit[3]["reason"], "superseded");
    let seqs: Vec<u64> = audit.iter().map(|a| a["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

#[test]
fn refusals_exit_non_zero_and_change_nothing() {
    let env = Env::new();
    let root = Identity::root("Root", Alg::P256);
    env.trust("root", &root.der, "approved");
    assert_ok(&env.run(&["trust", "revoke", &root.sha256()]));

    // Re-adding a revoked anchor does not revive it.
    let p = env.write("again.pem", root.pem());
    let out = env.run(&["trust", "add", p.to_str().unwrap(), "--vendor", "dten"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("revoked"));
    assert_eq!(list_json(&env, &[])[0]["state"], "revoked");

    // Unknown fingerprint, malformed fingerprint, missing file, garbage file.
    let out = env.run(&["trust", "approve", &"ab".repeat(32)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("no anchor"));
    let out = env.run(&["trust", "approve", "not-a-fingerprint"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["trust", "add", "/nonexistent.pem", "--vendor", "dten"]);
    assert_eq!(out.status.code(), Some(2));
    let junk = env.write(
        "junk.pem",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let out = env.run(&["trust", "add", junk.to_str().unwrap(), "--vendor", "dten"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    // --state revoked is not something `add` does.
    let out = env.run(&[
        "trust",
        "add",
        p.to_str().unwrap(),
        "--vendor",
        "dten",
        "--state",
        "revoked",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn add_imports_every_certificate_of_a_bundle_in_each_encoding() {
    let env = Env::new();
    let a = Identity::root("A", Alg::P256);
    let b = Identity::root("B", Alg::Ed25519);
    let bundle = env.write("bundle.pem", common::pem_bundle(&[&a.der, &b.der]));
    assert_ok(&env.run(&["trust", "add", bundle.to_str().unwrap(), "--vendor", "dten"]));
    let der = env.write("c.der", Identity::root("C", Alg::P384).der);
    assert_ok(&env.run(&[
        "trust",
        "add",
        der.to_str().unwrap(),
        "--vendor",
        "acme",
        "--source",
        "vendor portal",
    ]));
    let rows = list_json(&env, &[]);
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .any(|r| r["source"] == "vendor portal" && r["vendor"] == "acme"));
    // Adding the same file again changes nothing and writes no audit entry.
    let out = env.run(&["trust", "add", bundle.to_str().unwrap(), "--vendor", "dten"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("unchanged"));
    let out = env.run(&["trust", "audit", "--format", "json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit.len(), 3);
}

#[test]
fn store_export_and_import_round_trip() {
    let env = Env::new();
    let root = Identity::root("Root", Alg::P256);
    env.trust("root", &root.der, "candidate");
    assert_ok(&env.run(&["trust", "approve", &root.sha256(), "--by", "alice"]));
    let backup = env.path("backup.json");
    assert_ok(&env.run(&["store", "export", backup.to_str().unwrap()]));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&backup).unwrap()).unwrap();
    assert_eq!(json["anchors"].as_array().unwrap().len(), 1);
    assert_eq!(json["audit"].as_array().unwrap().len(), 2);

    let fresh = env.path("restored");
    let out = env.run(&[
        "--data-dir",
        fresh.to_str().unwrap(),
        "store",
        "import",
        backup.to_str().unwrap(),
    ]);
    assert_ok(&out);
    let out = env.run(&[
        "--data-dir",
        fresh.to_str().unwrap(),
        "trust",
        "list",
        "--format",
        "json",
    ]);
    assert_ok(&out);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["sha256"], root.sha256());
    assert_eq!(rows[0]["state"], "approved");
    // Importing into a store that has data is refused.
    let out = env.run(&[
        "--data-dir",
        fresh.to_str().unwrap(),
        "store",
        "import",
        backup.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_store_held_by_another_process_is_reported_as_locked() {
    let env = Env::new();
    let _held = trustwatch::store::Store::open(
        &env.path("data"),
        trustwatch::store::StoreOptions::default(),
    )
    .unwrap();
    let out = env.run(&["trust", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(
        err.contains("locked by another trustwatch process"),
        "{err}"
    );
}
