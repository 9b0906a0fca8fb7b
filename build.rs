//! Build script: names the commit the binary was built from, for `trustwatch --version`.
//!
//! `TRUSTWATCH_COMMIT` is, in this order:
//! 1. the `TRUSTWATCH_COMMIT` environment variable at build time, when set and not empty
//!    (an explicit choice wins: the container image, which has no `.git`, passes it as a
//!    build argument; a packager building from a tarball can too);
//! 2. `git rev-parse --short=12 HEAD`, but only when the repository git finds is this
//!    crate's own (its top level is the manifest directory): a source tarball unpacked
//!    inside some other repository must not be named after that repository's commit;
//! 3. `unknown`. Never a guess; a missing git never fails the build.
//!
//! A value that is not a plausible name (1 to 64 characters of `[0-9A-Za-z._+-]`)
//! becomes `unknown` with a build warning.

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
    let from_env = std::env::var("TRUSTWATCH_COMMIT")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let commit = from_env
        .or_else(|| own_repository().then(|| git(&["rev-parse", "--short=12", "HEAD"]))?)
        .and_then(|c| {
            if plausible(&c) {
                Some(c)
            } else {
                println!(
                    "cargo:warning=TRUSTWATCH_COMMIT {c:?} is not a commit name: using `unknown`"
                );
                None
            }
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=TRUSTWATCH_COMMIT={commit}");
}

/// Whether git's repository here is this crate's: its top level is the manifest dir.
fn own_repository() -> bool {
    let (Some(top), Ok(manifest)) = (
        git(&["rev-parse", "--show-toplevel"]),
        std::env::var("CARGO_MANIFEST_DIR"),
    ) else {
        return false;
    };
    match (std::fs::canonicalize(top), std::fs::canonicalize(manifest)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A commit id, tag or `describe` output; nothing that could break the version line.
fn plausible(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}
