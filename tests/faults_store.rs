//! Faults around the store and the clock, through the real binary where a person would
//! meet them: a store that cannot be opened (a file where its folder should be, a folder
//! it may not write, a file-size limit standing in for a full disk) is a clear error
//! (exit 1, what to do) and the store stays whole; a clock stepped backwards makes
//! `verify` refuse to decide trust; and an outage of the Discord API leaves the outbox
//! waiting, across failed passes and a reopened store, then delivered in order.

mod common;

use std::os::unix::process::CommandExt as _;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::discord::{FakeDiscord, Outage, CHANNEL_ID};
use common::{assert_ok, reasons, stderr, stdout, verdict, Alg, Env, Pki, SigForm, ZipSpec};
use time::OffsetDateTime;
use trustwatch::advisory::{Finding, FindingKind};
use trustwatch::chat::sink::DiscordSink;
use trustwatch::notify::{self, Backoff, Pass, DISCORD};
use trustwatch::store::{Delivery, Store, StoreOptions};

/// An env with one approved anchor in its store.
fn env_with_anchor() -> (Env, Pki) {
    let env = Env::new();
    let pki = Pki::new(Alg::P256);
    env.trust("root", &pki.root.der, "approved");
    (env, pki)
}

#[track_caller]
fn assert_store_whole(env: &Env, anchors: usize) {
    let out = env.run(&["trust", "audit", "--format", "json"]);
    assert_ok(&out);
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit.as_array().map(Vec::len), Some(anchors), "{audit}");
}

#[test]
fn a_file_where_the_store_should_be_is_a_clear_error() {
    let env = Env::new();
    env.write("data", "not a folder");
    let out = env.run(&["trust", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("a file is where the store's folder"), "{err}");
    assert!(err.contains("move it aside"), "{err}");
    assert_eq!(std::fs::read(env.path("data")).unwrap(), b"not a folder");
}

#[test]
fn a_store_folder_it_may_not_write_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    let parent = env.path("ro");
    std::fs::create_dir(&parent).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o500)).unwrap();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustwatch"));
    cmd.arg("--config")
        .arg(env.path("trustwatch.toml"))
        .arg("--data-dir")
        .arg(parent.join("data"))
        .args(["trust", "list"]);
    // Root ignores permissions: run the binary as `nobody` then (when it can reach it).
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt as _;
        m.uid() == 0
    });
    if root {
        cmd.uid(65534).gid(65534);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if root => {
            println!("skipped: running as root and `nobody` cannot run the binary: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("permission denied: give the user"), "{err}");
    assert!(!parent.join("data").exists());
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_store_stays_whole() {
    let (env, _) = env_with_anchor();
    let pki = Pki::new(Alg::P256);
    let pem = env.write("new.pem", pki.root.pem());
    // A file-size limit of one block stands in for a full disk (it needs no privileges,
    // so it works as root and in containers); SIGXFSZ ignored, so writes fail (EFBIG).
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_trustwatch"))
        .arg("--config")
        .arg(env.path("trustwatch.toml"))
        .args(["trust", "add", pem.to_str().unwrap(), "--vendor", "dten"])
        .env_remove("TRUSTWATCH_DATA_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no space left (or a file-size limit reached)"),
        "{err}"
    );
    // Nothing was half-written: the old anchor and its audit entry, and the store works.
    assert_store_whole(&env, 1);
    assert_ok(&env.run(&["trust", "add", pem.to_str().unwrap(), "--vendor", "dten"]));
    assert_store_whole(&env, 2);
}

#[test]
fn a_clock_stepped_back_is_refused_for_verification_but_at_stays_allowed() {
    let (env, pki) = env_with_anchor();
    let pkg = env.path("pkg.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&pkg);
    let pkg = pkg.to_str().unwrap();
    let (code, report) = env.verify(&[pkg]);
    assert_eq!((code, verdict(&report)), (0, "trusted"), "{report}");

    // An explicit --at in the future does not move the remembered clock.
    let later = OffsetDateTime::now_utc() + time::Duration::hours(2);
    let later_s = later
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (code, _) = env.verify(&[pkg, "--at", &later_s]);
    assert_eq!(code, 0);
    let (code, _) = env.verify(&[pkg]);
    assert_eq!(code, 0, "--at moved the remembered clock");

    // The store has seen a time two hours ahead (the clock was stepped back since).
    {
        let store = Store::open(&env.path("data"), StoreOptions::default()).unwrap();
        store.observe_clock(later, Duration::ZERO).unwrap();
        store.flush().unwrap();
    }
    let (code, report) = env.verify(&[pkg]);
    assert_eq!((code, verdict(&report)), (1, "invalid"), "{report}");
    let why = reasons(&report);
    assert!(why.starts_with("the system clock went backwards"), "{why}");
    assert!(why.contains("fix the clock"), "{why}");
    // The operator's explicit time is still honoured.
    let now_s = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (code, report) = env.verify(&[pkg, "--at", &now_s]);
    assert_eq!((code, verdict(&report)), (0, "trusted"), "{report}");
}

fn finding(i: usize) -> Finding {
    Finding {
        kind: FindingKind::Advisory,
        vendor: "dten".into(),
        title: format!("Advisory {i:02}"),
        url: format!("https://dten.example/sa-{i}"),
        published: None,
        fingerprints: Vec::new(),
        sha1_fingerprints: Vec::new(),
        certificates: Vec::new(),
        cves: vec![format!("CVE-2026-{}", 2000 + i)],
        config_keys: Vec::new(),
        summary: String::new(),
        names: Vec::new(),
    }
}

#[tokio::test]
async fn discord_down_the_outbox_waits_then_delivers_in_order_after_a_reopen() {
    const ITEMS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeDiscord::start().await;
    let http = Arc::new(fake.http());
    let render = notify::default_render();
    let sinks = [DISCORD.to_owned()];
    fake.go_down(Outage::Refused).await;
    {
        let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
        for i in 0..ITEMS {
            let f = finding(i);
            assert!(store
                .record_finding(&f, Delivery::To(&sinks), OffsetDateTime::now_utc())
                .unwrap());
        }
        let sink = DiscordSink::new(http.clone(), CHANNEL_ID, Some(store.clone()), 1);
        // Failed passes: each tries the oldest item only, keeps it, backs off.
        let mut failed = 0;
        let mut backoff = Backoff::new();
        while failed < 4 {
            match notify::drain_pass(&store, &sink, &render, &mut backoff)
                .await
                .unwrap()
            {
                Pass::Retry { delivered: 0, .. } => failed += 1,
                Pass::Idle { delivered: 0 } => {}
                other => panic!("{other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            backoff = Backoff::new(); // keep the test short: waits of about 1 s
        }
        let waiting = store.outbox_pending(DISCORD, 100).unwrap();
        assert_eq!(waiting.len(), ITEMS);
        assert!(waiting[0].attempts >= 4, "{:?}", waiting[0]);
        assert!(waiting[1..].iter().all(|i| i.attempts == 0));
        assert!(store.sink_summary(DISCORD).unwrap().down_since.is_some());
    }
    // Restarted (store reopened) and Discord is back.
    fake.come_up().await;
    let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
    let sink = DiscordSink::new(http, CHANNEL_ID, Some(store.clone()), 1);
    let mut backoff = Backoff::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !store.outbox_pending(DISCORD, 1).unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never delivered");
        notify::drain_pass(&store, &sink, &render, &mut backoff)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let titles: Vec<String> = fake
        .created_messages()
        .iter()
        .filter_map(|m| m["embeds"][0]["title"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(titles.len(), ITEMS, "{titles:#?}");
    for (i, t) in titles.iter().enumerate() {
        assert!(
            t.contains(&format!("Advisory {i:02}")),
            "in order: {titles:#?}"
        );
    }
    assert_eq!(store.sink_summary(DISCORD).unwrap().delivered, ITEMS as u64);
}

#[test]
fn a_clock_that_jumped_forward_is_reset_by_the_operator() {
    let (env, pki) = env_with_anchor();
    let pkg = env.path("pkg.zip");
    ZipSpec::new(&pki, SigForm::CmsDer).write(&pkg);
    let pkg = pkg.to_str().unwrap();
    // Nothing to reset while the clock agrees with the store.
    assert_ok(&env.run(&["verify", pkg]));
    let out = env.run(&["store", "clock", "--reset"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("nothing to reset"),
        "{}",
        stderr(&out)
    );

    // The clock jumped to 2030 once (the store remembers it), then NTP fixed it.
    {
        let store = Store::open(&env.path("data"), StoreOptions::default()).unwrap();
        let y2030 = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        store.observe_clock(y2030, Duration::ZERO).unwrap();
        store.flush().unwrap();
    }
    let (code, report) = env.verify(&[pkg]);
    assert_eq!((code, verdict(&report)), (1, "invalid"), "{report}");
    let out = env.run(&["store", "clock"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("latest time seen: 2030-03-17T17:46:40Z"),
        "{}",
        stdout(&out)
    );

    let out = env.run(&["store", "clock", "--reset", "--by", "Jane Doe"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("from 2030-03-17T17:46:40Z to "),
        "{}",
        stdout(&out)
    );
    let (code, report) = env.verify(&[pkg]);
    assert_eq!((code, verdict(&report)), (0, "trusted"), "{report}");
    let out = env.run(&["trust", "audit", "--format", "json"]);
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let last = audit.as_array().unwrap().last().unwrap();
    assert_eq!(
        (&last["action"], &last["actor"], &last["clock_from"]),
        (
            &serde_json::json!("clock_reset"),
            &serde_json::json!("Jane Doe"),
            &serde_json::json!("2030-03-17T17:46:40Z")
        ),
        "{last}"
    );
}
