//! Findings: what trustwatch understood from a vendor's feed or forum post (CONTRACT §5).
//!
//! The watchers (a later issue) turn entries into findings; the verifier and the
//! escalation script cite stored findings that mention a key ("this key was announced
//! in <url> on <date>").

pub mod extract;
pub mod kind;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::trust::Fingerprint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    CaRotation,
    KeyRevocation,
    Advisory,
    Deprecation,
    SourceError,
}

impl FindingKind {
    pub const ALL: [Self; 5] = [
        Self::CaRotation,
        Self::KeyRevocation,
        Self::Advisory,
        Self::Deprecation,
        Self::SourceError,
    ];

    /// The name used in JSON and in the config (`ca_rotation`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CaRotation => "ca_rotation",
            Self::KeyRevocation => "key_revocation",
            Self::Advisory => "advisory",
            Self::Deprecation => "deprecation",
            Self::SourceError => "source_error",
        }
    }
}

/// One finding, in the shape of CONTRACT §5's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub vendor: String,
    pub title: String,
    pub url: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
    /// Fingerprints the text announces (SHA-256, lowercase hex).
    #[serde(default)]
    pub fingerprints: Vec<Fingerprint>,
    /// 40-hex fingerprints the text announces (SHA-1 certificate or OpenPGP v4 key
    /// fingerprints): reported, never turned into anchors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sha1_fingerprints: Vec<String>,
    /// SHA-256 of each certificate the entry carries.
    #[serde(default)]
    pub certificates: Vec<Fingerprint>,
    #[serde(default)]
    pub cves: Vec<String>,
    #[serde(default)]
    pub config_keys: Vec<String>,
    #[serde(default)]
    pub summary: String,
    /// Issuer and subject names of the certificates it carries, so a verdict can cite
    /// an advisory by issuer name too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

impl Finding {
    /// Whether this finding mentions any of `fingerprints` or any of `names`
    /// (case-insensitive, whole name).
    pub fn mentions(&self, fingerprints: &[Fingerprint], names: &[String]) -> bool {
        let fp_hit = self
            .fingerprints
            .iter()
            .chain(&self.certificates)
            .any(|f| fingerprints.contains(f));
        fp_hit
            || self
                .names
                .iter()
                .any(|n| names.iter().any(|m| m.eq_ignore_ascii_case(n)))
    }
}

/// Most characters in a finding's summary.
const SUMMARY_CHARS: usize = 400;

/// An entry understood: the finding (when it is worth reporting) and the certificates
/// it carries (which become candidate anchors for a rotation).
#[derive(Debug, Clone)]
pub struct Understood {
    pub finding: Option<Finding>,
    pub certificates: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// Certificate links found in the text, to fetch (with the address guard).
    pub cert_links: Vec<String>,
}

/// Understand one entry from `vendor`'s source. Pure.
pub fn understand(entry: &crate::sources::Entry, vendor: &str) -> Understood {
    let ex = extract::extract(&entry.text);
    let mut cert_links = ex.cert_links.clone();
    for l in &entry.links {
        let path = l.split(['?', '#']).next().unwrap_or(l).to_ascii_lowercase();
        if [".crt", ".cer", ".pem", ".der", ".p7b", ".p7c"]
            .iter()
            .any(|e| path.ends_with(e))
            && !cert_links.contains(l)
        {
            cert_links.push(l.clone());
        }
    }
    // The text already holds a feed entry's title; a page post's title may be the
    // page's, which must not colour every reply in the thread.
    let finding = kind::classify("", &entry.text, &ex).map(|kind| {
        let mut names = Vec::new();
        for c in &ex.certificates {
            if let Ok(info) = crate::trust::cert::inspect(c) {
                for n in [info.subject, info.issuer] {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
        }
        let body = entry
            .text
            .strip_prefix(entry.title.as_str())
            .unwrap_or(&entry.text);
        let mut summary: String = without_pem(body)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if summary.chars().count() > SUMMARY_CHARS {
            summary = summary.chars().take(SUMMARY_CHARS).collect::<String>() + "…";
        }
        Finding {
            kind,
            vendor: vendor.to_owned(),
            title: entry.title.clone(),
            url: entry.url.clone(),
            published: entry.published,
            fingerprints: ex.sha256.clone(),
            sha1_fingerprints: ex.sha1.clone(),
            certificates: ex.certificates.iter().map(|c| Fingerprint::of(c)).collect(),
            cves: ex.cves.clone(),
            config_keys: ex.config_keys.clone(),
            summary,
            names,
        }
    });
    Understood {
        finding,
        certificates: ex.certificates,
        cert_links,
    }
}

/// `text` with PEM blocks replaced by a short marker (base64 is noise in a summary).
fn without_pem(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after
            .find("-----END ")
            .and_then(|e| after[e + 9..].find("-----").map(|f| e + 9 + f + 5))
        {
            Some(end) => {
                out.push_str("[certificate]");
                rest = &after[end..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
