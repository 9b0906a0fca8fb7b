//! Logical backups (`trustwatch store export|import`): everything as one JSON document,
//! written through a temp file in the same folder, fsynced and renamed into place, so a
//! failure leaves any previous backup intact.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::outbox::{item_key, OutboxItem, META_OUTBOX_SEQ};
use super::{codec, index_keys, Error, Store, META_AUDIT_SEQ, SCHEMA_VERSION};
use crate::advisory::Finding;
use crate::trust::{Anchor, AuditEntry};

const FORMAT: &str = "trustwatch-store";

/// Everything in the store, for `store export` / `store import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub schema_version: u32,
    pub anchors: Vec<Anchor>,
    pub audit: Vec<AuditEntry>,
    pub findings: Vec<Finding>,
    /// Notices still waiting for a chat sink, so a restore loses none of them (absent
    /// from backups made before the outbox existed).
    #[serde(default)]
    pub outbox: Vec<OutboxItem>,
}

impl Store {
    pub fn export(&self) -> Result<Export, Error> {
        Ok(Export {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            anchors: self.anchors(None)?,
            audit: self.audit()?,
            findings: self.findings()?,
            outbox: self.outbox_items()?,
        })
    }

    /// Write the export as JSON to `path` via a temp file in the same folder + rename.
    pub fn export_to(&self, path: &Path) -> Result<(), Error> {
        let backup = |reason: String| Error::Backup {
            path: path.display().to_string(),
            reason,
        };
        let export = self.export()?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| backup(e.to_string()))?;
        serde_json::to_writer_pretty(&mut tmp, &export).map_err(|e| backup(e.to_string()))?;
        tmp.write_all(b"\n").map_err(|e| backup(e.to_string()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| backup(e.to_string()))?;
        tmp.persist(path).map_err(|e| backup(e.error.to_string()))?;
        Ok(())
    }

    /// Restore an export into this (empty) store; refuses a non-empty store.
    pub fn import(&self, export: &Export) -> Result<(), Error> {
        let refuse = |reason: String| Error::Backup {
            path: self.path.display().to_string(),
            reason,
        };
        if export.format != FORMAT {
            return Err(refuse(format!(
                "format {:?} is not {FORMAT:?}",
                export.format
            )));
        }
        if export.schema_version > SCHEMA_VERSION {
            return Err(Error::NewerSchema {
                path: "the backup".into(),
                found: export.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        if !self.anchors.is_empty()
            || !self.audit.is_empty()
            || !self.findings.is_empty()
            || !self.outbox.is_empty()
        {
            return Err(refuse(
                "the store is not empty; import into a fresh --data-dir".into(),
            ));
        }
        let mut anchors = Vec::new();
        for a in &export.anchors {
            anchors.push((*a.sha256.as_bytes(), codec::encode(a)?));
        }
        let mut audit = Vec::new();
        for e in &export.audit {
            audit.push((e.seq.to_be_bytes(), codec::encode(e)?));
        }
        let mut findings = Vec::new();
        let mut index = Vec::new();
        for f in &export.findings {
            let k = Self::finding_key(f);
            index.extend(index_keys(f, &k));
            findings.push((k, codec::encode(f)?));
        }
        let mut outbox = Vec::new();
        for item in &export.outbox {
            outbox.push((item_key(&item.sink, item.seq), codec::encode(item)?));
        }
        let last_outbox = export.outbox.iter().map(|i| i.seq).max().unwrap_or(0);
        let last_seq = export.audit.iter().map(|e| e.seq).max().unwrap_or(0);
        let trees = (
            &self.anchors,
            &self.audit,
            &self.findings,
            &self.meta,
            &self.mentions,
            &self.outbox,
        );
        let result = trees.transaction(|(at, lt, ft, mt, it, ot)| {
            for (k, v) in &outbox {
                ot.insert(k.as_slice(), v.as_slice())?;
            }
            if last_outbox > 0 {
                mt.insert(META_OUTBOX_SEQ, &last_outbox.to_be_bytes())?;
            }
            for k in &index {
                it.insert(k.as_slice(), &[][..])?;
            }
            for (k, v) in &anchors {
                at.insert(k, v.as_slice())?;
            }
            for (k, v) in &audit {
                lt.insert(k, v.as_slice())?;
            }
            for (k, v) in &findings {
                ft.insert(k, v.as_slice())?;
            }
            mt.insert(META_AUDIT_SEQ, &last_seq.to_be_bytes())?;
            Ok::<(), ConflictableTransactionError<Error>>(())
        });
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => Error::Io {
                op: "import",
                reason: e.to_string(),
            },
        })?;
        self.flush()
    }
}
