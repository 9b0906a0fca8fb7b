//! `trustwatch run`: findings appear on schedule, a new entry is reported within its
//! source's interval, and SIGTERM stops it cleanly (exit 0, store flushed and unlocked).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Alg, Env, Identity};

fn feed(items: &[(&str, &str)]) -> String {
    let body: String = items
        .iter()
        .map(|(id, text)| format!("<item><guid>{id}</guid><title>{id}</title><link>https://dten.example/{id}</link><description>{text}</description></item>"))
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{body}</channel></rss>")
}

#[test]
fn run_polls_on_schedule_and_stops_cleanly_on_sigterm() {
    let env = Env::new();
    let feed_path = env.path("feed.xml");
    env.write(
        "trustwatch.toml",
        format!(
            "[store]\npath = {:?}\n[[vendor]]\nname = \"dten\"\n[[vendor.feed]]\nurl = \"file://{}\"\ninterval = \"1s\"\n",
            env.path("data").display().to_string(),
            feed_path.display()
        ),
    );
    env.write("feed.xml", feed(&[("sa-1", "Fixes CVE-2026-1111.")]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustwatch"))
        .arg("--config")
        .arg(env.path("trustwatch.toml"))
        .args(["run", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a first finding");
    assert!(first.contains("CVE-2026-1111"), "{first}");

    let root = Identity::root("Rotated root", Alg::P256);
    let rotation = format!(
        "We rotate our code-signing CA; the new root:\n{}",
        root.pem()
    )
    .replace('<', "&lt;");
    env.write(
        "feed.xml",
        feed(&[("sa-1", "Fixes CVE-2026-1111."), ("rot-1", &rotation)]),
    );
    let second = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the new entry");
    assert!(second.contains("ca_rotation"), "{second}");
    // Latency (interval + 2 s) is a performance target for the bench script, not a
    // timed assertion here; the 20 s bound only proves the loop keeps polling.

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "run did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    // The store is flushed and free: another command sees the candidate.
    let out = env.run(&["trust", "list", "--format", "json"]);
    common::assert_ok(&out);
    let anchors: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(anchors
        .iter()
        .any(|a| a["sha256"] == root.sha256() && a["state"] == "candidate"));
}
