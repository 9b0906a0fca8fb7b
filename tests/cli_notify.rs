//! Chat delivery through the real binary: `poll --once` delivers to a webhook exactly
//! as `run` would and says on stderr what stays queued; `notify --test` exit codes;
//! `status --format json`; the webhook URL (a secret) never appears on stderr.

mod common;

use std::process::{Command, Output};

use common::http::{Response, Server};

const VAR: &str = "TW_TEST_WEBHOOK_OPS";
const SECRET: &str = "T0SECRET/B0SECRET/xoxsecrettoken";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(webhook: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let hook = if webhook {
            format!("[[chat.webhook]]\nname = \"ops\"\nurl_env = \"{VAR}\"\n")
        } else {
            String::new()
        };
        let config = format!(
            "[store]\npath = {:?}\n\n[http]\ntimeout = \"2s\"\nconnect_timeout = \"1s\"\n\n{hook}\n[[vendor]]\nname = \"dten\"\n\n[[vendor.feed]]\nurl = \"file://{}\"\n",
            dir.path().join("data").display().to_string(),
            dir.path().join("feed.xml").display()
        );
        std::fs::write(dir.path().join("trustwatch.toml"), config).unwrap();
        std::fs::write(
            dir.path().join("feed.xml"),
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>DTEN</title><item><guid>sa-1</guid><title>Security advisory</title><link>https://dten.example/sa-1</link><description>Fixes CVE-2026-4242.</description></item></channel></rss>",
        )
        .unwrap();
        Self { dir }
    }

    fn run(&self, url: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustwatch"));
        cmd.arg("--config")
            .arg(self.dir.path().join("trustwatch.toml"))
            .arg("-vv")
            .args(args)
            .env_remove("TRUSTWATCH_CONFIG")
            .env_remove("TRUSTWATCH_DATA_DIR")
            .env_remove("RUST_LOG")
            .env_remove(VAR);
        if let Some(url) = url {
            cmd.env(VAR, url);
        }
        cmd.output().unwrap()
    }
}

fn hook(server: &Server) -> String {
    server.url(&format!("/services/{SECRET}"))
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn out(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn no_secret(o: &Output) {
    for text in [err(o), out(o)] {
        assert!(
            !text.contains("SECRET") && !text.contains("xoxsecret"),
            "{text}"
        );
    }
}

#[test]
fn poll_once_delivers_to_the_webhook_and_prints_as_before() {
    let env = Env::new(true);
    let server = Server::start();
    server.handle(|_| Response::ok("ok"));
    let o = env.run(
        Some(&hook(&server)),
        &["poll", "--once", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let lines: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "advisory");
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert!(posts[0].json()["attachments"][0]["title"]
        .as_str()
        .unwrap()
        .contains("Security advisory"));
    assert!(!err(&o).contains("queued for"), "{}", err(&o));
    no_secret(&o);
    // Nothing new: nothing posted again.
    let o = env.run(Some(&hook(&server)), &["poll", "--once"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1
    );
}

#[test]
fn a_webhook_that_is_down_leaves_findings_queued_and_status_shows_them() {
    let env = Env::new(true);
    let server = Server::start();
    server.handle(|_| Response::status(500));
    let o = env.run(Some(&hook(&server)), &["poll", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("Security advisory"));
    assert!(
        err(&o).contains("1 finding(s) queued for webhook:ops: webhook server error (HTTP 500)"),
        "{}",
        err(&o)
    );
    assert_eq!(server.requests().len(), 3, "three attempts at most");
    no_secret(&o);

    let o = env.run(None, &["status", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(st["version"]
        .as_str()
        .unwrap()
        .starts_with(env!("CARGO_PKG_VERSION")));
    let src = &st["sources"][0];
    assert!(src["id"].as_str().unwrap().starts_with("dten:file://"));
    assert!(src["last_poll"].as_str().is_some());
    assert_eq!(src["failures"], 0);
    let sink = &st["sinks"][0];
    assert_eq!(sink["sink"], "webhook:ops");
    assert_eq!(sink["configured"], true);
    assert_eq!(sink["pending"], 1);
    assert_eq!(sink["failed"], 0);
    assert!(sink["oldest"].as_str().is_some() && sink["next_attempt"].as_str().is_some());
    assert!(sink["down_since"].as_str().is_some());
    assert!(sink["last_error"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(st["not_posted"]["backfill"]["count"], 0);
    assert_eq!(st["not_posted"]["filtered"]["count"], 0);
    assert!(st["store_bytes"].as_u64().unwrap() > 0);

    let o = env.run(None, &["status"]);
    assert!(out(&o).contains("webhook:ops: 1 pending"), "{}", out(&o));
    assert!(out(&o).contains("queued: chat down since"), "{}", out(&o));

    // The webhook is back: once its next attempt is due, a poll delivers what was queued.
    server.handle(|_| Response::ok("ok"));
    let next = time::OffsetDateTime::parse(
        sink["next_attempt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let wait = next - time::OffsetDateTime::now_utc();
    if wait.is_positive() {
        std::thread::sleep(wait.unsigned_abs() + std::time::Duration::from_millis(100));
    }
    let o = env.run(Some(&hook(&server)), &["poll", "--once"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(server.requests().len(), 4);
    let o = env.run(None, &["status", "--format", "json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["sinks"][0]["pending"], 0);
    assert_eq!(st["sinks"][0]["delivered"], 1);
}

#[test]
fn notify_test_exit_codes() {
    let none = Env::new(false);
    let o = none.run(None, &["notify", "--test"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("no chat sink is configured: add a [[chat.webhook]]"),
        "{}",
        err(&o)
    );

    let env = Env::new(true);
    let o = env.run(None, &["notify", "--test"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains(VAR), "{}", err(&o));

    let server = Server::start();
    server.handle(|_| Response::ok("ok"));
    let o = env.run(Some(&hook(&server)), &["notify", "--test"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "webhook:ops: OK\n");
    let body = server.requests()[0].json();
    assert!(body["text"].as_str().unwrap().contains("test message"));

    server.handle(|_| Response::status(403));
    let o = env.run(Some(&hook(&server)), &["notify", "--test"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).starts_with("webhook:ops: FAILED: webhook refused the message (HTTP 403)"),
        "{}",
        out(&o)
    );
    no_secret(&o);

    // Unreachable: the error names no URL either.
    let o = env.run(
        Some(&format!("http://127.0.0.1:1/services/{SECRET}")),
        &["notify", "--test"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("webhook unreachable"), "{}", out(&o));
    no_secret(&o);

    let o = env.run(Some("not a url SECRET"), &["notify", "--test"]);
    assert_eq!(o.status.code(), Some(2));
    no_secret(&o);
}

#[test]
fn run_announces_delivers_and_stops_on_sigterm() {
    let env = Env::new(true);
    let server = Server::start();
    server.handle(|_| Response::ok("ok"));
    let child = Command::new(env!("CARGO_BIN_EXE_trustwatch"))
        .arg("--config")
        .arg(env.dir.path().join("trustwatch.toml"))
        .args(["-vv", "run"])
        .env_remove("TRUSTWATCH_CONFIG")
        .env_remove("TRUSTWATCH_DATA_DIR")
        .env_remove("RUST_LOG")
        .env(VAR, hook(&server))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.requests().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            server.requests()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let reqs = server.requests();
    assert!(reqs[0].json()["text"]
        .as_str()
        .unwrap()
        .contains("online: watching 1 source(s)"));
    assert!(reqs[1].json()["attachments"][0]["title"]
        .as_str()
        .unwrap()
        .contains("Security advisory"));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "", "with a chat sink, findings are not printed");
    no_secret(&o);
    assert_eq!(server.requests().len(), 2);
}
