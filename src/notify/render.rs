//! The default rendering of a notice: one embed per finding, coloured by kind, titled
//! and linked to its source, with its fingerprints and certificates in code blocks,
//! its CVE ids and configuration keys, the summary, and for a rotation the reminder
//! that announced keys are only candidates. Pure; the Discord sink wraps it (buttons,
//! evidence, role ping).

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;

use super::Notice;
use crate::advisory::FindingKind;
use crate::chat::message::colour;
use crate::chat::render::plain;
use crate::chat::{Embed, Field, Message};

/// What a rotation's announced keys are until a person acts.
pub const CANDIDATE_NOTE: &str =
    "recorded as candidate anchors: not trusted until an approver approves";

/// A human label per kind.
pub fn kind_label(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::CaRotation => "CA rotation",
        FindingKind::KeyRevocation => "Key revocation",
        FindingKind::Advisory => "Advisory",
        FindingKind::Deprecation => "Deprecation",
        FindingKind::SourceError => "Source error",
    }
}

pub fn kind_colour(kind: FindingKind) -> u32 {
    match kind {
        FindingKind::CaRotation => colour::CA_ROTATION,
        FindingKind::KeyRevocation => colour::KEY_REVOCATION,
        FindingKind::Advisory => colour::ADVISORY,
        FindingKind::Deprecation => colour::DEPRECATION,
        FindingKind::SourceError => colour::SOURCE_ERROR,
    }
}

fn lines<T: ToString>(items: &[T]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{}", item.to_string());
    }
    out
}

/// One finding as a message (already cut to Discord's limits).
pub fn finding(notice: &Notice) -> Message {
    let f = &notice.finding;
    // Titles and summaries come from vendors' feeds and forums: no markdown, masked
    // links or mass mentions from there (each sink makes the text safe for its format).
    let mut title = format!("{}: {}", kind_label(f.kind), plain(&f.title));
    if notice.update {
        title.push_str(" (updated)");
    }
    let mut description = plain(&f.summary);
    let announces_keys = !(f.fingerprints.is_empty() && f.certificates.is_empty());
    if f.kind == FindingKind::CaRotation && announces_keys {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        let _ = write!(description, "**{CANDIDATE_NOTE}**");
    }
    let published = f
        .published
        .and_then(|p| p.format(&Rfc3339).ok())
        .unwrap_or_else(|| "undated".to_owned());
    let mut fields = vec![
        Field::inline("Vendor", f.vendor.clone()),
        Field::inline("Kind", f.kind.as_str()),
        Field::inline("Published", published),
    ];
    let code = |body: String| crate::chat::message::code_block(&body, 1_024);
    if !f.fingerprints.is_empty() {
        fields.push(Field::new(
            "Announced fingerprints (SHA-256)",
            code(lines(&f.fingerprints)),
        ));
    }
    if !f.sha1_fingerprints.is_empty() {
        fields.push(Field::new(
            "SHA-1 / OpenPGP fingerprints (reported only)",
            code(lines(&f.sha1_fingerprints)),
        ));
    }
    if !f.certificates.is_empty() {
        fields.push(Field::new(
            "Certificates (SHA-256)",
            code(lines(&f.certificates)),
        ));
    }
    if !f.cves.is_empty() {
        fields.push(Field::new("CVEs", f.cves.join(", ")));
    }
    if !f.config_keys.is_empty() {
        let keys: Vec<String> = f.config_keys.iter().map(|k| format!("`{k}`")).collect();
        fields.push(Field::new("Configuration keys", keys.join(", ")));
    }
    Message {
        embeds: vec![Embed {
            title,
            url: Some(f.url.clone()),
            description,
            colour: kind_colour(f.kind),
            fields,
            footer: Some(format!("trustwatch · {}", f.url)),
            timestamp: f.published,
        }],
        ..Message::default()
    }
    .fit()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::advisory::Finding;
    use crate::trust::Fingerprint;

    fn rotation() -> Notice {
        Notice {
            id: "0123456789abcdef01234567".into(),
            finding: Finding {
                kind: FindingKind::CaRotation,
                vendor: "dten".into(),
                title: "Code-signing CA rotation".into(),
                url: "https://dten.example/sa-7".into(),
                published: Some(datetime!(2026-11-02 08:00 UTC)),
                fingerprints: vec![Fingerprint::of(b"new root")],
                sha1_fingerprints: vec!["a".repeat(40)],
                certificates: vec![Fingerprint::of(b"cross-signed")],
                cves: vec!["CVE-2026-4242".into()],
                config_keys: vec!["dten.hybrid.enable".into()],
                summary: "DTEN moves to a new code-signing root.".into(),
                names: Vec::new(),
            },
            update: false,
            queued: datetime!(2026-11-02 08:05 UTC),
        }
    }

    #[test]
    fn a_rotation_renders_as_one_embed() {
        insta::assert_debug_snapshot!(finding(&rotation()));
    }

    #[test]
    fn an_update_says_so_and_an_undated_source_error_has_no_candidate_note() {
        let mut n = rotation();
        n.update = true;
        assert!(finding(&n).embeds[0].title.ends_with("(updated)"));
        n.finding.kind = FindingKind::SourceError;
        n.finding.published = None;
        n.finding.url = "file://mirror/feed.xml".into();
        let m = finding(&n);
        let e = &m.embeds[0];
        assert_eq!(e.colour, colour::SOURCE_ERROR);
        assert!(!e.description.contains(CANDIDATE_NOTE));
        assert_eq!(e.url, None, "a non-web url is not linked");
        assert!(e.fields.iter().any(|f| f.value == "undated"));
    }

    #[test]
    fn a_huge_finding_is_cut_to_fit() {
        let mut n = rotation();
        n.finding.summary = "x".repeat(10_000);
        n.finding.fingerprints = (0..200u32)
            .map(|i| Fingerprint::of(&i.to_be_bytes()))
            .collect();
        let m = finding(&n);
        let e = &m.embeds[0];
        assert!(e.description.chars().count() <= 4_096);
        assert!(e.fields.iter().all(|f| f.value.chars().count() <= 1_024));
        assert!(e.fields[3].value.ends_with("```"), "{}", e.fields[3].value);
    }
}
