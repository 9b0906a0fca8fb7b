//! The local store: anchors, the append-only audit log, findings, the chat outbox
//! (`store/outbox.rs`) and metadata, in sled.
//!
//! Only this module (and its children) names sled. The API is narrow and typed (no sled
//! type leaks out) so that another embedded engine (redb) could replace it, and so that a
//! running `trustwatch run` can later serve the same calls to other commands over a
//! control socket.
//!
//! Guards for sled 0.34 (beta software, see LIBRARIES.md §2): a small page cache; a
//! schema version checked on open; every value in a versioned JSON envelope; anchor and
//! audit changes written in one transaction and flushed before the call returns (the
//! caller's side effects depend on them); logical JSON backups through a temp file and a
//! rename, never sled's own `export` (which panics on I/O errors).

mod backup;
mod chat_state;
mod clock;
mod codec;
mod outbox;
mod watch;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::advisory::Finding;
use crate::trust::{Anchor, AuditDraft, AuditEntry, Fingerprint, TrustSnapshot};

pub use backup::Export;
pub use chat_state::{ChatHealth, ChatState};
pub use clock::{ClockCheck, ClockReset};
pub use outbox::{
    notice_id, Delivery, NotPosted, NotPostedReason, OutboxItem, SinkSummary, ID_CHARS,
};
pub use watch::{EntryRecord, EntryStatus, SourceState};

/// The schema this build writes and understands.
pub const SCHEMA_VERSION: u32 = 1;

const META_SCHEMA: &[u8] = b"schema_version";
/// Retries (25 ms apart) of an open that finds the lock still held.
const LOCK_RETRIES: u32 = 20;
const META_AUDIT_SEQ: &[u8] = b"audit_seq";

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

pub struct Store {
    path: PathBuf,
    db: sled::Db,
    anchors: sled::Tree,
    audit: sled::Tree,
    findings: sled::Tree,
    meta: sled::Tree,
    /// Entries seen per source: key SHA-256(source, entry id), value content hash.
    seen: sled::Tree,
    /// Per-source state: first poll done, HTTP validators, failure streak.
    sources: sled::Tree,
    /// Index of findings by what they mention: key = SHA-256 of a term (a fingerprint,
    /// a lower-cased certificate name, a vendor) followed by the finding's key.
    mentions: sled::Tree,
    /// Notices waiting for chat sinks (`store/outbox.rs`).
    outbox: sled::Tree,
    /// Delivery statistics per sink and not-posted counts (`store/outbox.rs`).
    notify: sled::Tree,
}

fn io(op: &'static str) -> impl Fn(sled::Error) -> Error {
    move |e| Error::Io {
        op,
        reason: e.to_string(),
    }
}

impl Store {
    /// Open (creating if needed) the store in `dir`; checks the schema version.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Self, Error> {
        let path = dir.display().to_string();
        // sled 0.34 opens a data file full of garbage as an empty database; remember
        // whether there was data, so an empty result is reported instead of silently
        // starting over (and losing the anchors and the audit log).
        let had_data = std::fs::metadata(dir.join("db")).is_ok_and(|m| m.len() > 0);
        let open_once = || {
            sled::Config::new()
                .path(dir)
                .cache_capacity(options.cache_bytes)
                .open()
                .map_err(|e| match &e {
                    sled::Error::Io(io)
                        if io.kind() == std::io::ErrorKind::WouldBlock
                            || io.to_string().contains("lock") =>
                    {
                        Error::Locked { path: path.clone() }
                    }
                    sled::Error::Io(io) => Error::Open {
                        path: path.clone(),
                        reason: open_advice(io),
                    },
                    _ => Error::Open {
                        path: path.clone(),
                        reason: e.to_string(),
                    },
                })
        };
        // sled releases its file lock a few milliseconds after the last handle is
        // dropped; a reopen right after a close retries briefly before calling it locked.
        let mut tries = 0;
        let db = loop {
            match open_once() {
                Err(Error::Locked { .. }) if tries < LOCK_RETRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                other => break other?,
            }
        };
        if had_data && !db.tree_names().iter().any(|n| n.as_ref() == b"meta") {
            return Err(Error::Open {
                path,
                reason: "the database file holds data but no trustwatch records could be read \
                         (damaged?): move the folder aside and restore a backup with \
                         `trustwatch store import`"
                    .into(),
            });
        }
        let tree = |name: &str| {
            db.open_tree(name).map_err(|e| Error::Open {
                path: path.clone(),
                reason: e.to_string(),
            })
        };
        let store = Self {
            anchors: tree("anchors")?,
            audit: tree("audit")?,
            findings: tree("findings")?,
            meta: tree("meta")?,
            seen: tree("seen")?,
            sources: tree("sources")?,
            mentions: tree("mentions")?,
            outbox: tree("outbox")?,
            notify: tree("notify")?,
            db,
            path: dir.to_path_buf(),
        };
        store.check_schema()?;
        Ok(store)
    }

    fn check_schema(&self) -> Result<(), Error> {
        match self
            .meta
            .get(META_SCHEMA)
            .map_err(io("read schema version"))?
        {
            None => {
                self.meta
                    .insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(io("write schema version"))?;
                self.flush()
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| Error::Corrupt {
                        tree: "meta",
                        reason: "schema_version is not 4 bytes".into(),
                    })?;
                if found > SCHEMA_VERSION {
                    return Err(Error::NewerSchema {
                        path: self.path.display().to_string(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                // Older schemas would be migrated here; version 1 is the first.
                Ok(())
            }
        }
    }

    pub fn anchor(&self, sha256: &Fingerprint) -> Result<Option<Anchor>, Error> {
        self.anchors
            .get(sha256.as_bytes())
            .map_err(io("read anchor"))?
            .map(|v| codec::decode("anchors", &v))
            .transpose()
    }

    /// Anchors sorted by vendor then fingerprint, optionally for one vendor.
    pub fn anchors(&self, vendor: Option<&str>) -> Result<Vec<Anchor>, Error> {
        let mut out: Vec<Anchor> = Vec::new();
        for item in &self.anchors {
            let (_, v) = item.map_err(io("list anchors"))?;
            let a: Anchor = codec::decode("anchors", &v)?;
            if vendor.is_none_or(|want| a.vendor == want) {
                out.push(a);
            }
        }
        out.sort_by(|a, b| a.vendor.cmp(&b.vendor).then(a.sha256.cmp(&b.sha256)));
        Ok(out)
    }

    /// Write `new` and an audit entry in one transaction, only if the stored anchor is
    /// still `expected` (compare-and-swap); flushes before returning.
    pub fn apply(
        &self,
        expected: Option<&Anchor>,
        new: &Anchor,
        audit: &AuditDraft,
    ) -> Result<AuditEntry, Error> {
        let value = codec::encode(new)?;
        let result =
            (&self.anchors, &self.audit, &self.meta).transaction(|(anchors, log, meta)| {
                write_change(anchors, log, meta, expected, new, &value, audit)
            });
        let entry = result.map_err(unwrap_tx("write anchor and audit entry"))?;
        self.flush()?;
        Ok(entry)
    }

    /// The audit log in order.
    pub fn audit(&self) -> Result<Vec<AuditEntry>, Error> {
        self.audit
            .iter()
            .map(|item| {
                let (_, v) = item.map_err(io("read audit log"))?;
                codec::decode("audit", &v)
            })
            .collect()
    }

    pub fn trust_snapshot(&self) -> Result<TrustSnapshot, Error> {
        Ok(TrustSnapshot {
            anchors: self.anchors(None)?,
        })
    }

    fn finding_key(f: &Finding) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [&f.vendor, &f.url, &f.title] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize().into()
    }

    /// Store a finding (keyed by vendor + url + title). Returns true when it was new or
    /// changed (an update), false when the identical finding was already stored.
    pub fn put_finding(&self, finding: &Finding) -> Result<bool, Error> {
        let key = Self::finding_key(finding);
        let value = codec::encode(finding)?;
        if let Some(old) = self.findings.get(key).map_err(io("read finding"))? {
            let old: Finding = codec::decode("findings", &old)?;
            if &old == finding {
                return Ok(false);
            }
        }
        self.findings
            .insert(key, value)
            .map_err(io("write finding"))?;
        for k in index_keys(finding, &key) {
            self.mentions
                .insert(k, &[][..])
                .map_err(io("write finding index"))?;
        }
        Ok(true)
    }

    /// Stored findings that mention any of `fingerprints` or `names` (certificate
    /// subject or issuer names, case-insensitive), oldest first (undated last). Looked
    /// up through the `mentions` index; each hit is checked again against the finding,
    /// so an index entry left by an edited finding cannot cite it wrongly.
    pub fn findings_mentioning(
        &self,
        fingerprints: &[Fingerprint],
        names: &[String],
    ) -> Result<Vec<Finding>, Error> {
        let terms = fingerprints
            .iter()
            .map(|f| term("fp", &f.to_hex()))
            .chain(names.iter().map(|n| term("name", &n.to_lowercase())));
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for t in terms {
            for item in self.mentions.scan_prefix(t) {
                let (k, _) = item.map_err(io("read finding index"))?;
                let fkey = k[32..].to_vec();
                if !keys.contains(&fkey) {
                    keys.push(fkey);
                }
            }
        }
        let mut out = Vec::new();
        for k in keys {
            let Some(v) = self.findings.get(&k).map_err(io("read finding"))? else {
                continue;
            };
            let f: Finding = codec::decode("findings", &v)?;
            if f.mentions(fingerprints, names) {
                out.push(f);
            }
        }
        out.sort_by_key(|f| (f.published.is_none(), f.published));
        Ok(out)
    }

    /// Every stored finding.
    pub fn findings(&self) -> Result<Vec<Finding>, Error> {
        self.findings
            .iter()
            .map(|item| {
                let (_, v) = item.map_err(io("read findings"))?;
                codec::decode("findings", &v)
            })
            .collect()
    }

    pub fn flush(&self) -> Result<(), Error> {
        self.db.flush().map(|_| ()).map_err(io("flush"))
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, Error> {
        self.db.size_on_disk().map_err(io("size on disk"))
    }
}

type Tx = sled::transaction::TransactionalTree;
type TxResult<T> = Result<T, ConflictableTransactionError<Error>>;

fn unwrap_tx(op: &'static str) -> impl Fn(TransactionError<Error>) -> Error {
    move |e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => io(op)(e),
    }
}

/// Inside a transaction: write `new` (pre-encoded as `value`) if the stored anchor is
/// still `expected`, and append its audit entry.
fn write_change(
    anchors: &Tx,
    log: &Tx,
    meta: &Tx,
    expected: Option<&Anchor>,
    new: &Anchor,
    value: &[u8],
    audit: &AuditDraft,
) -> TxResult<AuditEntry> {
    let key = *new.sha256.as_bytes();
    let stored: Option<Anchor> = match anchors.get(key)? {
        Some(v) => Some(codec::decode("anchors", &v).map_err(ConflictableTransactionError::Abort)?),
        None => None,
    };
    if stored.as_ref() != expected {
        return Err(ConflictableTransactionError::Abort(Error::Conflict(
            new.sha256,
        )));
    }
    let seq = next_seq(meta.get(META_AUDIT_SEQ)?.as_deref());
    let entry = AuditEntry {
        seq,
        at: audit.at,
        actor: audit.actor.clone(),
        action: audit.action,
        sha256: Some(new.sha256),
        vendor: new.vendor.clone(),
        from_state: expected.map(|a| a.state),
        to_state: Some(new.state),
        reason: audit.reason.clone(),
        source: audit.source.clone(),
        clock_from: None,
        clock_to: None,
    };
    let encoded = codec::encode(&entry).map_err(ConflictableTransactionError::Abort)?;
    anchors.insert(&key, value)?;
    log.insert(&seq.to_be_bytes(), encoded)?;
    meta.insert(META_AUDIT_SEQ, &seq.to_be_bytes())?;
    Ok(entry)
}

/// The index key prefix of one term.
fn term(kind: &str, value: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    h.finalize().into()
}

/// Every index key of a finding: its fingerprints, certificates, names and vendor.
fn index_keys(f: &Finding, finding_key: &[u8; 32]) -> Vec<Vec<u8>> {
    f.fingerprints
        .iter()
        .chain(&f.certificates)
        .map(|fp| term("fp", &fp.to_hex()))
        .chain(f.names.iter().map(|n| term("name", &n.to_lowercase())))
        .chain(std::iter::once(term("vendor", &f.vendor)))
        .map(|t| [t.as_slice(), finding_key.as_slice()].concat())
        .collect()
}

/// An I/O error that kept the store from opening, with what to do about it.
fn open_advice(e: &std::io::Error) -> String {
    let what = match e.raw_os_error() {
        Some(20) => {
            "a file is where the store's folder (or one of its parents) should be: \
                     move it aside, or point --data-dir / store.path at a folder"
        }
        Some(13 | 1) => {
            "permission denied: give the user trustwatch runs as write access to \
                         the folder (and search access to its parents), or choose another \
                         --data-dir"
        }
        Some(30) => {
            "the file system is read-only: put the store on a writable one (under \
                     systemd: ReadWritePaths)"
        }
        Some(28 | 27 | 122) => {
            "no space left (or a file-size limit reached): free space and \
                                run the command again; the store was not changed"
        }
        _ => "check that the folder exists, is a folder and is writable",
    };
    format!("{e}: {what}")
}

fn next_seq(current: Option<&[u8]>) -> u64 {
    current
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map_or(1, |b| u64::from_be_bytes(b) + 1)
}

#[cfg(test)]
mod tests;
