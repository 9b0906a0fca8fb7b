//! Operator comfort: `--version` names the commit, `--log-format json`, shell
//! completions and the man page, all through the real binary.

mod common;

use std::process::Command;

use common::{assert_ok, stderr, stdout, Env};

fn trustwatch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trustwatch"))
        .args(args)
        .env_remove("TRUSTWATCH_CONFIG")
        .env_remove("TRUSTWATCH_DATA_DIR")
        .env_remove("TRUSTWATCH_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn version_names_the_commit() {
    let out = trustwatch(&["--version"]);
    assert_ok(&out);
    let text = stdout(&out);
    // build.rs hands the same value to every target of the crate, this test included.
    let commit = env!("TRUSTWATCH_COMMIT");
    assert_eq!(
        text,
        format!(
            "trustwatch {} (commit {commit})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(
        commit == "unknown"
            || (1..=64).contains(&commit.len())
                && commit
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b)),
        "{commit:?}"
    );
    // Built from this crate's own git checkout without an explicit TRUSTWATCH_COMMIT
    // (a developer's tree, CI's clean clone): the commit is HEAD's, never `unknown`.
    if std::env::var_os("TRUSTWATCH_COMMIT").is_none() {
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let own = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
            std::fs::canonicalize(top).ok()
                == std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).ok()
        });
        if let (true, Some(head)) = (own, git(&["rev-parse", "--short=12", "HEAD"])) {
            assert_eq!(commit, head, "--version names another commit than HEAD");
        }
    }
}

#[test]
fn json_logs_are_json_lines_on_stderr() {
    let env = Env::new();
    let out = env.run(&["--log-format", "json", "-v", "trust", "list"]);
    assert_ok(&out);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines on stderr");
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["fields"]["message"].is_string(), "{line}");
    }
    // Results stay on stdout, untouched by the log format.
    assert!(!stdout(&out).trim_start().starts_with('{'));
}

#[test]
fn log_format_from_the_environment_and_text_by_default() {
    let env = Env::new();
    let text = env.run(&["-v", "trust", "list"]);
    assert_ok(&text);
    let first = stderr(&text);
    assert!(!first.trim().is_empty());
    assert!(serde_json::from_str::<serde_json::Value>(first.lines().next().unwrap()).is_err());

    let out = Command::new(env!("CARGO_BIN_EXE_trustwatch"))
        .arg("--config")
        .arg(env.path("trustwatch.toml"))
        .args(["-v", "trust", "list"])
        .env("TRUSTWATCH_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .env_remove("TRUSTWATCH_DATA_DIR")
        .output()
        .unwrap();
    assert_ok(&out);
    let line = stderr(&out);
    let line = line.lines().next().unwrap();
    serde_json::from_str::<serde_json::Value>(line).unwrap();
}

#[test]
fn bad_log_format_is_a_usage_error() {
    let out = trustwatch(&["--log-format", "xml", "trust", "list"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bash_completions_name_the_commands() {
    let out = trustwatch(&["completions", "bash"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("trustwatch"), "{text}");
    assert!(text.contains("verify"), "{text}");
}

#[test]
fn every_shell_has_completions() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = trustwatch(&["completions", shell]);
        assert_ok(&out);
        assert!(stdout(&out).contains("trustwatch"), "{shell}");
    }
    let out = trustwatch(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn completions_and_man_need_no_config() {
    // A --config that does not exist would be a usage error for any other command.
    let out = trustwatch(&["--config", "/nonexistent/trustwatch.toml", "man"]);
    assert_ok(&out);
    let out = trustwatch(&[
        "--config",
        "/nonexistent/trustwatch.toml",
        "completions",
        "fish",
    ]);
    assert_ok(&out);
}

#[test]
fn man_page_is_roff() {
    let out = trustwatch(&["man"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains(".TH"), "{text}");
    assert!(text.contains("verify"), "{text}");
}

/// The example systemd unit: the command line of the brief, and, when
/// `systemd-analyze` is installed, a clean `systemd-analyze verify` (with the binary
/// path pointed at the one under test, since verify checks that it exists).
#[test]
fn systemd_unit_example() {
    let unit_path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/trustwatch.service");
    let unit = std::fs::read_to_string(unit_path).unwrap();
    for line in [
        "User=trustwatch",
        "ExecStart=/usr/local/bin/trustwatch --config /etc/trustwatch/trustwatch.toml --data-dir /var/lib/trustwatch run",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/trustwatch",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=30",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }

    let have_analyze = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_analyze {
        eprintln!("systemd-analyze not installed: unit syntax not verified");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("trustwatch.service");
    std::fs::write(
        &copy,
        unit.replace(
            "ExecStart=/usr/local/bin/trustwatch ",
            &format!("ExecStart={} ", env!("CARGO_BIN_EXE_trustwatch")),
        ),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{err}"
    );
    // Unknown or bad values are only warnings ("..., ignoring"): none may name the unit.
    assert!(
        !err.lines().any(|l| l.contains("trustwatch.service")),
        "systemd-analyze verify warned:\n{err}"
    );
}
