//! While `trustwatch run` is up, every other command works from another process through
//! its control socket (CONTRACT §6, last paragraph): same output, same exit codes,
//! relative paths from the client's directory, the client's user in the audit log; a
//! second `run` is refused, bad input on the socket does not stop it, and after SIGTERM
//! the store opens directly with every change.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_ok, stderr, stdout, Alg, Env, Pki, SigForm, ZipSpec};

/// A running `trustwatch run` on the env's store, stopped by SIGTERM on drop.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
}

impl Running {
    /// Start `run --format json` as user "server-user" and wait for its socket.
    fn start(env: &Env) -> Self {
        let log = env.path("run.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_trustwatch"))
            .arg("--config")
            .arg(env.path("trustwatch.toml"))
            .args(["-v", "run", "--format", "json"])
            .env("USER", "server-user")
            .env_remove("SUDO_USER")
            .env_remove("TRUSTWATCH_CONFIG")
            .env_remove("TRUSTWATCH_DATA_DIR")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let running = Self { child, stdout, log };
        let socket = env.path("data/control.sock");
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "no control socket\n{}",
                running.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        running
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The next finding `run` printed.
    fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            assert!(
                Instant::now() < deadline,
                "run did not stop\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run the binary as user "alice" from `cwd`, timed.
fn client(env: &Env, cwd: &Path, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_trustwatch"))
        .arg("--config")
        .arg(env.path("trustwatch.toml"))
        .args(args)
        .current_dir(cwd)
        .env("USER", "alice")
        .env_remove("SUDO_USER")
        .env_remove("TRUSTWATCH_CONFIG")
        .env_remove("TRUSTWATCH_DATA_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (out, started.elapsed())
}

fn config_with_feed(env: &Env, feed: &Path) {
    env.write(
        "trustwatch.toml",
        format!(
            "[store]\npath = {:?}\n\n[[vendor]]\nname = \"dten\"\ncontact = \"security@dten.example\"\n\n[[vendor.feed]]\nurl = \"file://{}\"\ninterval = \"1h\"\n",
            env.path("data").display().to_string(),
            feed.display()
        ),
    );
}

fn rotation_feed(pem: &str) -> String {
    let text = format!("We rotate our code-signing CA. The new root:\n{pem}").replace('<', "&lt;");
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><item><guid>rot-1</guid><title>Code-signing CA rotation</title><link>https://dten.example/rot-1</link><description>{text}</description></item></channel></rss>")
}

fn named_pki(name: &str) -> Pki {
    let root = common::Identity::root(&format!("{name} Root"), Alg::P256);
    let intermediate = root.intermediate(&format!("{name} Signing CA"), Alg::P256, Some(0));
    let leaf = intermediate.leaf(&format!("{name} Release Signing"), Alg::P256);
    Pki {
        root,
        intermediate,
        leaf,
    }
}

#[test]
fn commands_reach_a_running_instance_with_their_paths_codes_and_actor() {
    let env = Env::new();
    let feed = env.path("feed.xml");
    // The feed is missing when `run` first polls it: that poll fails (one source_error
    // finding), then the 1 h interval keeps `run` away, so `poll --once` below is the
    // one that reads the rotation.
    config_with_feed(&env, &feed);
    let cwd = env.path("alice");
    std::fs::create_dir_all(&cwd).unwrap();
    let pki = Pki::new(Alg::P256);
    // Other names: a same-named root in the store would make them invalid, not unknown.
    let stranger = named_pki("Stranger");
    let candidate = named_pki("Candidate");
    env.write("alice/certs/root.pem", pki.root.pem());
    env.write("alice/certs/candidate.pem", candidate.root.pem());
    ZipSpec::new(&pki, SigForm::CmsDer).write(&cwd.join("pkg.zip"));
    ZipSpec::new(&stranger, SigForm::CmsDer).write(&cwd.join("stranger.zip"));
    ZipSpec::new(&candidate, SigForm::CmsDer).write(&cwd.join("candidate.zip"));

    let mut run = Running::start(&env);
    let mut timings = Vec::new();
    let mut go = |args: &[&str]| {
        let (out, took) = client(&env, &cwd, args);
        timings.push((args.join(" "), took));
        out
    };

    let out = go(&["trust", "add", "certs/root.pem", "--vendor", "dten"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains(&pki.root.sha256()),
        "{}",
        stdout(&out)
    );
    let out = go(&[
        "trust",
        "add",
        "certs/candidate.pem",
        "--vendor",
        "dten",
        "--state",
        "candidate",
        "--by",
        "Jane Doe",
    ]);
    assert_ok(&out);

    let out = go(&["trust", "list", "--format", "json"]);
    assert_ok(&out);
    let anchors: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(anchors.len(), 2, "{anchors:?}");

    // Exit codes are the verdicts', relative package paths are alice's.
    let verdict = |out: &Output| {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            out.status.code(),
            report["verdict"].as_str().unwrap_or("").to_owned(),
        )
    };
    let trusted = go(&["verify", "pkg.zip", "--format", "json"]);
    assert_eq!(
        verdict(&trusted),
        (Some(0), "trusted".into()),
        "{}",
        stderr(&trusted)
    );
    let unknown = go(&["verify", "stranger.zip", "--format", "json"]);
    assert_eq!(verdict(&unknown), (Some(3), "unknown_signer".into()));
    let pending = go(&["verify", "candidate.zip", "--format", "json"]);
    assert_eq!(verdict(&pending), (Some(4), "pending".into()));
    let text = go(&["verify", "pkg.zip"]);
    assert_eq!(text.status.code(), Some(0));
    assert!(stdout(&text).starts_with("TRUSTED"), "{}", stdout(&text));
    let missing = go(&["verify", "nowhere.zip"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("error: "), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("nowhere.zip does not exist"));

    let out = go(&["trust", "revoke", &pki.root.sha256(), "--reason", "drill"]);
    assert_ok(&out);
    let revoked = go(&["verify", "pkg.zip", "--format", "json"]);
    assert_eq!(verdict(&revoked), (Some(1), "invalid".into()));
    let out = go(&["trust", "approve", &pki.root.sha256()]);
    assert_ok(&out);
    assert!(stdout(&out).contains("by cli:alice"), "{}", stdout(&out));

    let out = go(&["escalate", "stranger.zip"]);
    assert_ok(&out);
    let script = stdout(&out);
    assert!(script.starts_with("#!/bin/sh"), "{script}");
    assert!(script.contains(&stranger.leaf.sha256()), "{script}");

    let out = go(&["store", "export", "backup.json"]);
    assert_ok(&out);
    assert!(cwd.join("backup.json").is_file());
    let out = go(&["store", "import", "backup.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("stop `trustwatch run` first"),
        "{}",
        stderr(&out)
    );

    // `run`'s first poll of the missing feed has been reported; now the feed appears.
    let first = run.next_line();
    assert!(first.contains("source_error"), "{first}");
    let announced = common::Identity::root("DTEN Rotated Root", Alg::P256);
    std::fs::write(&feed, rotation_feed(&announced.pem())).unwrap();
    let out = go(&["poll", "--once", "--format", "json"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("ca_rotation"), "{}", stdout(&out));

    let out = go(&["trust", "audit", "--format", "json"]);
    assert_ok(&out);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let actors: Vec<&str> = audit.iter().filter_map(|e| e["actor"].as_str()).collect();
    assert!(actors.contains(&"cli:alice"), "{actors:?}");
    assert!(actors.contains(&"Jane Doe"), "{actors:?}");
    assert!(
        !actors.iter().any(|a| a.contains("server-user")),
        "{actors:?}"
    );

    for (command, took) in &timings {
        eprintln!("forwarded {command}: {} ms", took.as_millis());
    }
    let log = run.log();
    // They ran in `run` (the store was locked for anyone else), as alice.
    assert!(log.contains("forwarded command done"), "{log}");
    assert!(log.contains("cli:alice"), "{log}");
    assert_eq!(run.stop(), Some(0), "{log}");
    assert!(!env.path("data/control.sock").exists());

    // The store opens directly, with every change.
    let (out, took) = client(&env, &cwd, &["trust", "list", "--format", "json"]);
    eprintln!("direct trust list: {} ms", took.as_millis());
    assert_ok(&out);
    let anchors: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let state = |sha: &str| {
        anchors
            .iter()
            .find(|a| a["sha256"] == sha)
            .map(|a| a["state"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(state(&pki.root.sha256()).as_deref(), Some("approved"));
    assert_eq!(
        state(&candidate.root.sha256()).as_deref(),
        Some("candidate")
    );
    assert_eq!(state(&announced.sha256()).as_deref(), Some("candidate"));
    let (out, _) = client(&env, &cwd, &["trust", "audit", "--format", "json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let revokes = audit
        .iter()
        .filter(|e| e["actor"] == "cli:alice" && e["to_state"] == "revoked")
        .count();
    assert_eq!(revokes, 1, "{audit:?}");
}

/// Send raw bytes on the socket and read the one-line answer.
fn raw(socket: &Path, bytes: &[u8]) -> serde_json::Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let bytes = bytes.to_vec();
    // The server stops reading an oversized request, so the write may fail: fine.
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&bytes);
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let _ = sender.join();
    let line = answer.split(|&b| b == b'\n').next().unwrap_or_default();
    serde_json::from_slice(line)
        .unwrap_or_else(|e| panic!("no JSON answer ({e}): {}", String::from_utf8_lossy(&answer)))
}

#[test]
fn a_second_run_is_refused_and_bad_requests_do_not_stop_the_server() {
    let env = Env::new();
    // A crashed instance's socket file: nobody answers on it, so `run` replaces it.
    std::fs::create_dir_all(env.path("data")).unwrap();
    drop(std::os::unix::net::UnixListener::bind(env.path("data/control.sock")).unwrap());
    let run = Running::start(&env);
    let cwd = env.dir.path().to_path_buf();

    let (second, _) = client(&env, &cwd, &["run"]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("stop `trustwatch run` first"),
        "{}",
        stderr(&second)
    );

    let socket = env.path("data/control.sock");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    for bad in [
        b"\x00\xff\xfe garbage\n".to_vec(),
        b"{\"version\":1,\"argv\":".to_vec(),
        vec![b'a'; 2 << 20],
        b"{\"version\":99,\"argv\":[],\"cwd\":\"/\",\"actor\":\"x\"}\n".to_vec(),
    ] {
        let answer = raw(&socket, &bad);
        assert_eq!(answer["code"], 2, "{answer}");
        assert!(
            answer["stderr"]
                .as_str()
                .unwrap_or("")
                .starts_with("error: "),
            "{answer}"
        );
    }
    let answer = raw(
        &socket,
        format!(
            "{{\"version\":1,\"argv\":[\"trust\",\"list\"],\"cwd\":{:?},\"actor\":\"cli:raw\"}}\n",
            cwd.display().to_string()
        )
        .as_bytes(),
    );
    assert_eq!(answer["code"], 0, "{answer}");
    assert!(
        answer["stdout"]
            .as_str()
            .unwrap_or("")
            .contains("no anchors"),
        "{answer}"
    );

    // Still serving the CLI, more callers at once than it runs at once (they queue).
    let started = Instant::now();
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|_| s.spawn(|| client(&env, &cwd, &["trust", "list", "--format", "json"]).0))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "12 concurrent forwarded trust list: {} ms",
        started.elapsed().as_millis()
    );
    for out in &outs {
        assert_ok(out);
        assert_eq!(stdout(out).trim(), "[]");
    }

    // With no socket answering, a locked store still says so (and nothing else breaks).
    std::fs::remove_file(&socket).unwrap();
    let (out, _) = client(&env, &cwd, &["trust", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("locked by another trustwatch process"),
        "{}",
        stderr(&out)
    );

    let log = run.log();
    assert_eq!(run.stop(), Some(0), "{log}");
    assert!(!socket.exists());
}

#[test]
fn a_clock_that_ran_ahead_is_reset_beside_run_and_audited() {
    use trustwatch::store::{Store, StoreOptions};
    let env = Env::new();
    config_with_feed(&env, &env.path("feed.xml"));
    let cwd = env.path("alice");
    std::fs::create_dir_all(&cwd).unwrap();
    let pki = Pki::new(Alg::P256);
    env.write("alice/certs/root.pem", pki.root.pem());
    ZipSpec::new(&pki, SigForm::CmsDer).write(&cwd.join("pkg.zip"));
    // The clock once ran two hours ahead and was corrected: the store remembers then.
    {
        let ahead = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
        let store = Store::open(&env.path("data"), StoreOptions::default()).unwrap();
        store.observe_clock(ahead, Duration::ZERO).unwrap();
        store.flush().unwrap();
    }
    let run = Running::start(&env);
    let go = |args: &[&str]| client(&env, &cwd, args).0;
    assert_ok(&go(&["trust", "add", "certs/root.pem", "--vendor", "dten"]));
    let json = |out: &Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
    };

    let refused = go(&["verify", "pkg.zip", "--format", "json"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    assert!(stdout(&refused).contains("store clock --reset"));
    let shown = go(&["store", "clock", "--format", "json"]);
    assert_ok(&shown);
    let shown = json(&shown);
    assert_eq!(shown["verify_refused"], true, "{shown}");
    assert!(shown["behind_seconds"].as_i64().unwrap() > 7000, "{shown}");
    let text = go(&["store", "clock"]);
    assert_ok(&text);
    assert!(
        stdout(&text).contains("verify refuses to decide"),
        "{}",
        stdout(&text)
    );

    // Options that only make sense with --reset are usage errors without it.
    assert_eq!(go(&["store", "clock", "--by", "x"]).status.code(), Some(2));

    let reset = go(&["store", "clock", "--reset", "--reason", "RTC ran ahead"]);
    assert_ok(&reset);
    let said = stdout(&reset);
    assert!(
        said.starts_with("reset the remembered clock from "),
        "{said}"
    );
    assert!(said.contains("by cli:alice (audit #2)"), "{said}");
    let trusted = go(&["verify", "pkg.zip", "--format", "json"]);
    assert_eq!(trusted.status.code(), Some(0), "{}", stdout(&trusted));
    assert_eq!(
        json(&go(&["store", "clock", "--format", "json"]))["verify_refused"],
        false
    );

    // Not needed any more: refused, nothing written.
    let again = go(&["store", "clock", "--reset"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("nothing to reset"),
        "{}",
        stderr(&again)
    );

    let audit = json(&go(&["trust", "audit", "--format", "json"]));
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    let e = &audit[1];
    assert_eq!(e["action"], "clock_reset", "{e}");
    assert_eq!(e["actor"], "cli:alice", "{e}");
    assert_eq!(e["reason"], "RTC ran ahead", "{e}");
    assert!(
        e.get("sha256").is_none() && e.get("to_state").is_none(),
        "{e}"
    );
    assert!(
        e["clock_from"].as_str().unwrap() > e["clock_to"].as_str().unwrap(),
        "{e}"
    );
    // Anchor entries keep their shape.
    assert_eq!(
        audit[0]["sha256"],
        pki.root.sha256().as_str(),
        "{}",
        audit[0]
    );
    assert_eq!(audit[0]["to_state"], "approved");
    let text = stdout(&go(&["trust", "audit"]));
    assert!(
        text.contains("cli:alice ClockReset remembered clock "),
        "{text}"
    );
    assert!(text.contains(", reason: RTC ran ahead"), "{text}");

    let log = run.log();
    assert!(log.contains("remembered clock reset"), "{log}");
    assert_eq!(run.stop(), Some(0), "{log}");
}
