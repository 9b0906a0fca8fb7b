//! The local store: anchors, the append-only audit log, findings, and metadata, in sled.
//!
//! Only this module (and its children) may name sled. The API is narrow and typed so
//! another embedded engine could replace it, and so a running `run` can later serve the
//! same calls to other commands over a control socket.
//!
//! OWNER: helper "store" (replace this stub). See the interface below.

use std::path::Path;

use crate::advisory::Finding;
use crate::trust::{Anchor, AuditDraft, AuditEntry, Fingerprint, TrustSnapshot};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "the store at {path} is locked by another trustwatch process (is `trustwatch run` up?)"
    )]
    Locked { path: String },
    #[error("the store at {path} has schema version {found}; this trustwatch understands up to {supported}: upgrade trustwatch")]
    NewerSchema {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("the anchor {0} changed while it was being updated; run the command again")]
    Conflict(Fingerprint),
    #[error("store I/O failed during {op}: {reason}")]
    Io { op: &'static str, reason: String },
    #[error("corrupt record in {tree}: {reason}")]
    Corrupt { tree: &'static str, reason: String },
    #[error("backup file {path}: {reason}")]
    Backup { path: String, reason: String },
}

/// Options for opening the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// sled page cache in bytes (sled's own default is 1 GiB; we keep it small).
    pub cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_bytes: 64 << 20,
        }
    }
}

/// Everything in the store, for `store export` / `store import`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Export {
    pub format: String,
    pub schema_version: u32,
    pub anchors: Vec<Anchor>,
    pub audit: Vec<AuditEntry>,
    pub findings: Vec<Finding>,
}

pub struct Store {
    _private: (),
}

impl Store {
    /// Open (creating if needed) the store in `dir`; checks the schema version.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Self, Error> {
        let _ = options;
        Err(Error::Open {
            path: dir.display().to_string(),
            reason: "not implemented yet".into(),
        })
    }

    pub fn anchor(&self, sha256: &Fingerprint) -> Result<Option<Anchor>, Error> {
        let _ = sha256;
        Ok(None)
    }

    /// Anchors sorted by vendor then fingerprint, optionally for one vendor.
    pub fn anchors(&self, vendor: Option<&str>) -> Result<Vec<Anchor>, Error> {
        let _ = vendor;
        Ok(Vec::new())
    }

    /// Write `new` and an audit entry in one transaction, only if the stored anchor is
    /// still `expected` (compare-and-swap); flushes before returning.
    pub fn apply(
        &self,
        expected: Option<&Anchor>,
        new: &Anchor,
        audit: &AuditDraft,
    ) -> Result<AuditEntry, Error> {
        let _ = (expected, audit);
        Err(Error::Conflict(new.sha256))
    }

    /// The audit log in order.
    pub fn audit(&self) -> Result<Vec<AuditEntry>, Error> {
        Ok(Vec::new())
    }

    pub fn trust_snapshot(&self) -> Result<TrustSnapshot, Error> {
        Ok(TrustSnapshot::default())
    }

    /// Store a finding (keyed by vendor + url + title); returns true when it was new.
    pub fn put_finding(&self, finding: &Finding) -> Result<bool, Error> {
        let _ = finding;
        Ok(false)
    }

    /// Stored findings that mention any of `fingerprints` or `names`, oldest first.
    pub fn findings_mentioning(
        &self,
        fingerprints: &[Fingerprint],
        names: &[String],
    ) -> Result<Vec<Finding>, Error> {
        let _ = (fingerprints, names);
        Ok(Vec::new())
    }

    pub fn export(&self) -> Result<Export, Error> {
        Ok(Export {
            format: "trustwatch-store".into(),
            schema_version: 1,
            anchors: Vec::new(),
            audit: Vec::new(),
            findings: Vec::new(),
        })
    }

    /// Write the export as JSON to `path` via a temp file in the same folder + rename.
    pub fn export_to(&self, path: &Path) -> Result<(), Error> {
        let _ = path;
        Ok(())
    }

    /// Restore an export into this (empty) store; refuses a non-empty store.
    pub fn import(&self, export: &Export) -> Result<(), Error> {
        let _ = export;
        Ok(())
    }

    pub fn flush(&self) -> Result<(), Error> {
        Ok(())
    }
}
