//! The escalation script (CONTRACT §5): a POSIX shell script that shows a person what to
//! compare with the vendor before an unknown or pending key is approved.
//!
//! Rendering is pure (text in, text out) and snapshot-tested. Everything that comes from
//! outside (certificate names, advisory titles, URLs) is untrusted: it is reduced to one
//! line of printable characters before it enters a comment, and single-quoted (with `'`
//! escaped) before it enters a shell word, so no certificate or feed can inject commands.
//! The script needs only `openssl` and POSIX tools, and passes `shellcheck`.

mod build;

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::trust::Fingerprint;
use crate::verify::AdvisoryRef;

pub use build::{for_fingerprint, for_package, key_from_anchor, key_from_der};

/// One certificate (or bare fingerprint) to escalate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub sha256: Fingerprint,
    pub spki_sha256: Option<Fingerprint>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
    /// `unknown`, `candidate`, `approved`, `revoked`: what the store says.
    pub state: String,
    /// PEM of the certificate when known, embedded so the script runs on its own.
    pub pem: Option<String>,
}

/// What the script is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The package that raised it, when there is one.
    pub package: Option<String>,
    /// The verdict that raised it, when there is one.
    pub verdict: Option<String>,
    pub vendor: Option<String>,
    pub contact: Option<String>,
    pub advisory_url: Option<String>,
    /// Signer first, then towards the root.
    pub keys: Vec<Key>,
    /// Stored advisories that mention these keys.
    pub advisories: Vec<AdvisoryRef>,
    pub generated: OffsetDateTime,
}

/// One line of printable text, at most `max` characters: safe inside a `#` comment.
fn line(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// A single-quoted shell word.
fn quote(s: &str) -> String {
    format!("'{}'", line(s, 512).replace('\'', r"'\''"))
}

fn date(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Render the script.
pub fn render(e: &Escalation) -> String {
    let mut s = String::new();
    let w = &mut s;
    let vendor = e.vendor.as_deref().unwrap_or("unknown vendor");
    let _ = writeln!(w, "#!/bin/sh");
    let _ = writeln!(w, "# trustwatch escalation script");
    let _ = writeln!(w, "# Generated {}.", date(Some(e.generated)));
    let _ = writeln!(w, "#");
    if let Some(p) = &e.package {
        let _ = writeln!(w, "# Package: {}", line(p, 200));
    }
    if let Some(v) = &e.verdict {
        let _ = writeln!(w, "# Verdict: {}", line(v, 40));
    }
    let _ = writeln!(w, "# Vendor:  {}", line(vendor, 100));
    let _ = writeln!(
        w,
        "# Contact: {}",
        line(
            e.contact
                .as_deref()
                .unwrap_or("none configured: add `contact` to this vendor's [[vendor]] entry"),
            200
        )
    );
    if let Some(u) = &e.advisory_url {
        let _ = writeln!(w, "# Vendor security page: {}", line(u, 300));
    }
    let _ = writeln!(w, "#");
    let _ = writeln!(
        w,
        "# Do not approve a key until the vendor has confirmed its SHA-256 fingerprint over a"
    );
    let _ = writeln!(
        w,
        "# channel you already trust (a phone number from your contract, a signed mail)."
    );
    let _ = writeln!(
        w,
        "# Run: sh this-script.sh FINGERPRINT_THE_VENDOR_CONFIRMED"
    );
    let _ = writeln!(w, "#");
    for (i, k) in e.keys.iter().enumerate() {
        let role = if i == 0 { "signer" } else { "issuer" };
        let _ = writeln!(w, "# Key {} ({role}, {}):", i + 1, line(&k.state, 20));
        let _ = writeln!(w, "#   SHA-256:      {}", k.sha256);
        if let Some(spki) = k.spki_sha256 {
            let _ = writeln!(w, "#   SPKI SHA-256: {spki}");
        }
        if let Some(sub) = &k.subject {
            let _ = writeln!(w, "#   Subject:      {}", line(sub, 300));
        }
        if let Some(iss) = &k.issuer {
            let _ = writeln!(w, "#   Issuer:       {}", line(iss, 300));
        }
        if k.not_before.is_some() || k.not_after.is_some() {
            let _ = writeln!(
                w,
                "#   Valid:        {} to {}",
                date(k.not_before),
                date(k.not_after)
            );
        }
    }
    let _ = writeln!(w, "#");
    if e.advisories.is_empty() {
        let _ = writeln!(
            w,
            "# No stored advisory mentions these keys: ask the vendor where the key was announced."
        );
    } else {
        let _ = writeln!(w, "# Stored advisories that mention these keys:");
        for f in &e.advisories {
            let _ = writeln!(
                w,
                "#   - {} ({}, {})",
                line(&f.title, 200),
                line(&f.url, 300),
                date(f.published)
            );
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "set -eu");
    let _ = writeln!(w);
    let _ = writeln!(w, "VENDOR={}", quote(vendor));
    let _ = writeln!(
        w,
        "CONTACT={}",
        quote(e.contact.as_deref().unwrap_or("(no contact configured)"))
    );
    let expected: Vec<String> = e.keys.iter().map(|k| k.sha256.to_hex()).collect();
    let _ = writeln!(w, "KNOWN_SHA256={}", quote(&expected.join(" ")));
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "command -v openssl >/dev/null 2>&1 || {{ echo 'openssl is required' >&2; exit 2; }}"
    );
    let _ = writeln!(w, "WORK=$(mktemp -d)");
    let _ = writeln!(w, "trap 'rm -rf \"$WORK\"' EXIT");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "echo \"Escalation for vendor $VENDOR (contact: $CONTACT)\""
    );
    for (i, k) in e.keys.iter().enumerate() {
        let n = i + 1;
        let Some(pem) = &k.pem else {
            let _ = writeln!(
                w,
                "echo 'Key {n}: known by fingerprint only ({}); get the certificate from the package and run:'",
                k.sha256
            );
            let _ = writeln!(
                w,
                "echo '  openssl x509 -in CERT.pem -noout -fingerprint -sha256'"
            );
            continue;
        };
        let _ = writeln!(w, "cat > \"$WORK/key{n}.pem\" <<'TRUSTWATCH_PEM'");
        for l in pem.lines() {
            // PEM is base64 and header lines; anything else is dropped.
            if l.starts_with("-----")
                || l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            {
                let _ = writeln!(w, "{l}");
            }
        }
        let _ = writeln!(w, "TRUSTWATCH_PEM");
        let _ = writeln!(w, "echo");
        let _ = writeln!(w, "echo \"Key {n}:\"");
        let _ = writeln!(
            w,
            "openssl x509 -in \"$WORK/key{n}.pem\" -noout -subject -issuer -serial -dates"
        );
        let _ = writeln!(
            w,
            "openssl x509 -in \"$WORK/key{n}.pem\" -noout -fingerprint -sha256"
        );
        let _ = writeln!(
            w,
            "printf 'SPKI SHA-256: '; openssl x509 -in \"$WORK/key{n}.pem\" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1"
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "if [ \"$#\" -lt 1 ]; then");
    let _ = writeln!(
        w,
        "  echo; echo 'Ask the vendor to read out the SHA-256 fingerprint, then run this script with it as the argument.'"
    );
    let _ = writeln!(w, "  exit 0");
    let _ = writeln!(w, "fi");
    let _ = writeln!(
        w,
        "CONFIRMED=$(printf '%s' \"$1\" | tr -d ': -' | tr 'ABCDEF' 'abcdef')"
    );
    let _ = writeln!(w, "for fp in $KNOWN_SHA256; do");
    let _ = writeln!(w, "  if [ \"$fp\" = \"$CONFIRMED\" ]; then");
    let _ = writeln!(
        w,
        "    echo \"MATCH: the vendor confirmed $fp. Approve it with: trustwatch trust approve $fp --by \\\"your name\\\"\""
    );
    let _ = writeln!(w, "    exit 0");
    let _ = writeln!(w, "  fi");
    let _ = writeln!(w, "done");
    let _ = writeln!(
        w,
        "echo \"NO MATCH: $CONFIRMED is none of the keys above. Do not approve; report it to $CONTACT.\" >&2"
    );
    let _ = writeln!(w, "exit 1");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(subject: &str, title: &str) -> Escalation {
        Escalation {
            package: Some("Full-upgrade-package-dten.zip".into()),
            verdict: Some("pending".into()),
            vendor: Some("dten".into()),
            contact: Some("security@dten.example".into()),
            advisory_url: Some("https://dten.example/security".into()),
            keys: vec![Key {
                sha256: Fingerprint::of(b"leaf"),
                spki_sha256: Some(Fingerprint::of(b"spki")),
                subject: Some(subject.into()),
                issuer: Some("CN=DTEN Code Signing CA 2026".into()),
                not_before: Some(OffsetDateTime::UNIX_EPOCH),
                not_after: Some(OffsetDateTime::UNIX_EPOCH + time::Duration::days(365)),
                state: "candidate".into(),
                pem: None,
            }],
            advisories: vec![AdvisoryRef {
                vendor: "dten".into(),
                title: title.into(),
                url: "https://forum.dten.example/t/4242".into(),
                published: Some(OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)),
            }],
            generated: OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_400),
        }
    }

    #[test]
    fn rendered_script_snapshot() {
        let script = render(&sample(
            "CN=DTEN Release Signing 2026, O=DTEN Inc.",
            "Code-signing CA rotation",
        ));
        insta::assert_snapshot!(script);
    }

    #[test]
    fn hostile_names_cannot_escape_comments_or_quotes() {
        let evil =
            "x\nTRUSTWATCH_PEM\ntouch pwned1 #'; touch pwned2; echo '$(touch pwned3)`touch pwned4`";
        let mut e = sample(evil, evil);
        e.vendor = Some(evil.into());
        e.contact = Some(evil.into());
        e.package = Some(evil.into());
        let script = render(&e);
        for l in script.lines() {
            if l.contains("touch pwned") {
                let t = l.trim_start();
                assert!(
                    t.starts_with('#') || t.starts_with("VENDOR='") || t.starts_with("CONTACT='"),
                    "unsafe line: {l}"
                );
            }
        }
        // Run it for real: nothing named pwned* may appear.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("e.sh"), &script).unwrap();
        let _ = std::process::Command::new("sh")
            .arg("e.sh")
            .arg("00")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["e.sh".to_owned()]);
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
