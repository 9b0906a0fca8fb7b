//! Build script: names the commit the binary was built from, for `trustwatch --version`.
//!
//! `TRUSTWATCH_COMMIT` is `git rev-parse --short=12 HEAD` when git and a repository are
//! present, else the `TRUSTWATCH_COMMIT` environment variable (set it in builds without
//! `.git`, such as the container image), else `unknown`. A missing git never fails the build.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Watch `path` if it exists (a missing one would make Cargo rerun on every build).
fn rerun_if_changed(path: &str) {
    let path = PathBuf::from(path);
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=TRUSTWATCH_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    // `.git/HEAD` and the ref it points to; in a worktree `.git` is a file, so ask git
    // where they are. Packed refs move when a branch is packed.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            rerun_if_changed(&p);
        }
    }
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--git-path", &reference]) {
            rerun_if_changed(&p);
        }
    }
    let commit = git(&["rev-parse", "--short=12", "HEAD"])
        .or_else(|| {
            std::env::var("TRUSTWATCH_COMMIT")
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=TRUSTWATCH_COMMIT={commit}");
}
