//! The package manifest: `manifest.json` (`{"files": [{"path", "sha256"}], ...}` plus any
//! vendor fields, kept) or `SHA256SUMS` (`sha256sum` output).
//!
//! OWNER: helper "package" (replace this stub).

use crate::trust::Fingerprint;

/// One file the manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub path: String,
    pub sha256: Fingerprint,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub entries: Vec<ManifestEntry>,
    /// The whole manifest.json document (vendor fields kept); `None` for SHA256SUMS.
    pub document: Option<serde_json::Value>,
}
