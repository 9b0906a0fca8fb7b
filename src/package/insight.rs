//! What a manifest says an operator must act on: reboots, loosely constrained
//! dependency versions, removed and newly required configuration keys.
//!
//! OWNER: helper "package" (replace this stub).

use serde::Serialize;

use super::Manifest;

/// The `manifest` object of CONTRACT §2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManifestSummary {
    pub name: Option<String>,
    pub version: Option<String>,
    /// `required`, `recommended`, `no`, or the vendor's own word.
    pub reboot: Option<String>,
    /// One sentence per thing an operator must act on.
    pub notices: Vec<String>,
}

pub fn summarize(manifest: &Manifest) -> ManifestSummary {
    let _ = manifest;
    ManifestSummary::default()
}
