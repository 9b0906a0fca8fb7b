//! Findings: what trustwatch understood from a vendor's feed or forum post (CONTRACT §5).
//!
//! The watchers (a later issue) turn entries into findings; the verifier and the
//! escalation script cite stored findings that mention a key ("this key was announced
//! in <url> on <date>").

pub mod extract;

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
