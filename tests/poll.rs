//! `trustwatch poll --once` end to end over file:// sources: findings once, edits as
//! updates, backfill, candidate anchors never approved, revocations, source errors once
//! with one recovery notice, dedup across process restarts (each run is a new process).

mod common;

use common::{assert_ok, Alg, Env, Identity};
use time::format_description::well_known::Rfc2822;
use time::{Duration, OffsetDateTime};

fn rss(items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Vendor</title>{}</channel></rss>",
        items.concat()
    )
}

fn item(guid: &str, title: &str, days_ago: Option<i64>, description: &str) -> String {
    let date = days_ago
        .map(|d| {
            format!(
                "<pubDate>{}</pubDate>",
                (OffsetDateTime::now_utc() - Duration::days(d))
                    .format(&Rfc2822)
                    .unwrap()
            )
        })
        .unwrap_or_default();
    let esc = description
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!("<item><guid>{guid}</guid><title>{title}</title><link>https://dten.example/{guid}</link>{date}<description>{esc}</description></item>")
}

/// An Env whose config polls one feed file and one page file in the temp dir.
fn env_with_sources() -> Env {
    let env = Env::new();
    let feed = env.path("feed.xml");
    let page = env.path("thread.html");
    let config = format!(
        "[store]\npath = {:?}\n\n[[vendor]]\nname = \"dten\"\ncontact = \"security@dten.example\"\n\n[[vendor.feed]]\nurl = \"file://{}\"\n\n[[vendor.page]]\nurl = \"file://{}\"\nitem_selector = \"article.post\"\nnext_selector = \"a[rel=next]\"\n",
        env.path("data").display().to_string(),
        feed.display(),
        page.display()
    );
    env.write("trustwatch.toml", config);
    env.write(
        "thread.html",
        "<html><body><p>no posts yet</p></body></html>",
    );
    env
}

fn poll(env: &Env) -> Vec<serde_json::Value> {
    env.poll_json()
}

fn anchors(env: &Env) -> Vec<serde_json::Value> {
    let out = env.run(&["trust", "list", "--format", "json"]);
    assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn rotation_becomes_candidates_reported_once_and_updates_reported_again() {
    let env = env_with_sources();
    let root = Identity::root("DTEN Code Signing Root 2026", Alg::P256);
    let announced = Identity::root("Announced only", Alg::P256);
    let text = format!(
        "We rotate our code-signing CA. New root fingerprint (SHA-256): {}. The certificate:\n{}",
        announced.sha256(),
        root.pem()
    );
    env.write(
        "feed.xml",
        rss(&[
            item("rot-1", "Code-signing CA rotation", Some(3), &text),
            item("sa-1", "Security advisory", Some(2), "Fixes CVE-2026-0001."),
        ]),
    );

    let findings = poll(&env);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let rot = &findings[0];
    assert_eq!(rot["kind"], "ca_rotation");
    assert_eq!(rot["vendor"], "dten");
    assert_eq!(rot["url"], "https://dten.example/rot-1");
    assert!(rot["published"].as_str().is_some());
    assert_eq!(rot["fingerprints"], serde_json::json!([announced.sha256()]));
    assert_eq!(rot["certificates"], serde_json::json!([root.sha256()]));
    assert_eq!(findings[1]["kind"], "advisory");
    assert_eq!(findings[1]["cves"], serde_json::json!(["CVE-2026-0001"]));

    let stored = anchors(&env);
    assert_eq!(stored.len(), 2);
    assert!(
        stored.iter().all(|a| a["state"] == "candidate"),
        "{stored:#?}"
    );
    assert!(stored.iter().any(|a| a["sha256"] == root.sha256()
        && a["subject"]
            .as_str()
            .unwrap()
            .contains("DTEN Code Signing Root 2026")));

    // Nothing new: nothing reported (the store remembers across processes).
    assert!(poll(&env).is_empty());

    // An edit is reported again, as an update; the anchors stay candidates.
    env.write(
        "feed.xml",
        rss(&[
            item(
                "rot-1",
                "Code-signing CA rotation",
                Some(3),
                &format!("{text}\nUpdated: the old root stays valid until 2027."),
            ),
            item("sa-1", "Security advisory", Some(2), "Fixes CVE-2026-0001."),
        ]),
    );
    let again = poll(&env);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["update"], true);
    assert!(anchors(&env).iter().all(|a| a["state"] == "candidate"));

    // The audit log names the advisory as the source of each candidate.
    let out = env.run(&["trust", "audit", "--format", "json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(
        |e| e["actor"] == "advisory:https://dten.example/rot-1" && e["to_state"] == "candidate"
    ));
}

#[test]
fn backfill_records_old_entries_without_reporting_them() {
    let env = env_with_sources();
    let root = Identity::root("Old rotation root", Alg::P256);
    env.write(
        "feed.xml",
        rss(&[
            item(
                "old",
                "Code-signing CA rotation (2024)",
                Some(700),
                &format!("New signing root:\n{}", root.pem()),
            ),
            item("undated", "Security advisory", None, "CVE-2026-0002"),
            item("recent", "Security advisory", Some(1), "CVE-2026-0003"),
        ]),
    );
    let first = poll(&env);
    let titles: Vec<_> = first
        .iter()
        .map(|f| f["cves"][0].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(titles, ["CVE-2026-0002", "CVE-2026-0003"], "{first:#?}");
    // Recorded, though: the old rotation's certificate is a candidate anchor.
    assert!(anchors(&env)
        .iter()
        .any(|a| a["sha256"] == root.sha256() && a["state"] == "candidate"));
    // After the first poll, an old entry appearing later is reported.
    env.write(
        "feed.xml",
        rss(&[item(
            "old2",
            "Security advisory",
            Some(500),
            "CVE-2026-0004",
        )]),
    );
    let later = poll(&env);
    assert_eq!(later.len(), 1);
}

#[test]
fn revocations_revoke_only_matching_anchors_of_the_vendor() {
    let env = env_with_sources();
    let root = Identity::root("Compromised root", Alg::P256);
    env.trust("root", &root.der, "approved");
    let stranger = Identity::root("Unknown key", Alg::P256);
    let text = format!(
        "Our release signing key was compromised. Do not trust certificates with SHA-256 fingerprint {} or {}.",
        root.sha256(),
        stranger.sha256()
    );
    env.write(
        "feed.xml",
        rss(&[item("rev", "Signing key revoked", Some(1), &text)]),
    );
    let findings = poll(&env);
    assert_eq!(findings[0]["kind"], "key_revocation");
    assert_eq!(findings[0]["fingerprints"].as_array().unwrap().len(), 2);
    let stored = anchors(&env);
    assert_eq!(
        stored.len(),
        1,
        "an unknown fingerprint is reported, not stored"
    );
    assert_eq!(stored[0]["state"], "revoked");
    assert!(stored[0]["revoked_reason"]
        .as_str()
        .unwrap()
        .contains("https://dten.example/rev"));
}

#[test]
fn a_failing_source_is_reported_once_and_its_recovery_once() {
    let env = env_with_sources();
    // feed.xml does not exist yet.
    let first = poll(&env);
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(first[0]["kind"], "source_error");
    assert!(first[0]["summary"].as_str().unwrap().contains("feed.xml"));
    assert!(
        poll(&env).is_empty(),
        "a second failure is not reported again"
    );
    env.write("feed.xml", rss(&[]));
    let recovered = poll(&env);
    assert_eq!(recovered.len(), 1);
    assert!(recovered[0]["title"]
        .as_str()
        .unwrap()
        .contains("reachable again"));
    assert!(poll(&env).is_empty());
    // Malformed feeds are source errors with a reason.
    env.write("feed.xml", "<rss><channel><item><title>broken");
    let broken = poll(&env);
    assert_eq!(broken[0]["kind"], "source_error", "{broken:#?}");
}

#[test]
fn a_paginated_thread_is_followed_on_its_host() {
    let env = env_with_sources();
    env.write("feed.xml", rss(&[]));
    let root = Identity::root("Thread root", Alg::P384);
    env.write(
        "thread.html",
        format!("<html><body><article class=post id=a><p>We are rotating our code-signing CA.</p><pre>{}</pre></article><a rel=next href=\"thread-2.html\">next</a></body></html>", root.pem()),
    );
    env.write(
        "thread-2.html",
        "<html><body><article class=post id=b><p>The cross-sign will follow; the new signing key replaces the old one. SHA-256 fingerprint: 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff</p></article><a rel=next href=\"https://evil.example/next\">next</a></body></html>",
    );
    let findings = poll(&env);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert!(findings[1]["url"]
        .as_str()
        .unwrap()
        .ends_with("thread-2.html#b"));
    assert_eq!(anchors(&env).len(), 2);
}

#[test]
fn poll_without_once_is_a_usage_error() {
    let env = Env::new();
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(2));
}
