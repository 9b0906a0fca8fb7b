//! What the watchers remember: which entries of which source were seen (with their
//! content hash, so an edit is an update), each source's state (first poll done, HTTP
//! validators, failure streak), and the recording of one entry: its finding, the
//! candidate anchors and revocations it causes, their audit entries, and its outbox
//! items (or the reason it is not posted), in one transaction, flushed before the
//! caller reports anything.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::Transactional;
use time::OffsetDateTime;

use super::outbox::{enqueue_tx, notice_id, Delivery, Enqueue};
use super::{codec, index_keys, io, unwrap_tx, write_change, Error, Store};
use crate::advisory::Finding;
use crate::trust::approval::Change;

/// Per-source state kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// Whether a poll of this source has completed once (the backfill rule applies
    /// only before that).
    pub polled: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Consecutive failed polls; a `source_error` is reported when it becomes 1, a
    /// recovery when it returns to 0.
    pub failures: u32,
    pub last_error: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_poll: Option<OffsetDateTime>,
    /// The server asked us (Retry-After) not to come back before this time.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub retry_until: Option<OffsetDateTime>,
}

/// One entry to record.
#[derive(Debug, Clone)]
pub struct EntryRecord<'a> {
    pub source: &'a str,
    pub entry_id: &'a str,
    pub content_hash: [u8; 32],
    pub finding: Option<&'a Finding>,
    /// Anchor changes the finding causes (candidates, revocations), decided by
    /// `trust::approval`; written with compare-and-swap.
    pub changes: &'a [Change],
    /// Where the finding goes when it is new or updated (ignored without a finding).
    pub delivery: Delivery<'a>,
    /// When it is recorded (the outbox items' queued time).
    pub at: OffsetDateTime,
}

/// What recording found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryStatus {
    New,
    Updated,
    Unchanged,
}

fn seen_key(source: &str, entry_id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update([0]);
    h.update(entry_id.as_bytes());
    h.finalize().into()
}

impl Store {
    pub fn source_state(&self, source: &str) -> Result<SourceState, Error> {
        match self
            .sources
            .get(source.as_bytes())
            .map_err(io("read source state"))?
        {
            Some(v) => codec::decode("sources", &v),
            None => Ok(SourceState::default()),
        }
    }

    pub fn put_source_state(&self, source: &str, state: &SourceState) -> Result<(), Error> {
        self.sources
            .insert(source.as_bytes(), codec::encode(state)?)
            .map_err(io("write source state"))?;
        self.flush()
    }

    /// Whether an entry was seen before, and with which content hash.
    pub fn seen(&self, source: &str, entry_id: &str) -> Result<Option<[u8; 32]>, Error> {
        Ok(self
            .seen
            .get(seen_key(source, entry_id))
            .map_err(io("read seen entry"))?
            .and_then(|v| <[u8; 32]>::try_from(v.as_ref()).ok()))
    }

    /// Record one entry, its finding and the anchor changes it causes, atomically.
    /// An entry already seen with the same content changes nothing.
    pub fn record_entry(&self, rec: &EntryRecord<'_>) -> Result<EntryStatus, Error> {
        let key = seen_key(rec.source, rec.entry_id);
        let finding = rec
            .finding
            .map(|f| {
                let k = Self::finding_key(f);
                Ok::<_, Error>((k, codec::encode(f)?, index_keys(f, &k), notice_id(f)?))
            })
            .transpose()?;
        let encoded: Vec<Vec<u8>> = rec
            .changes
            .iter()
            .map(|c| codec::encode(&c.new))
            .collect::<Result<_, _>>()?;
        let status = (
            &self.anchors,
            &self.audit,
            &self.meta,
            &self.findings,
            &self.seen,
            &self.mentions,
            &self.outbox,
            &self.notify,
        )
            .transaction(
                |(anchors, log, meta, findings, seen, mentions, outbox, notify)| {
                    let status = match seen.get(key)? {
                        Some(old) if old.as_ref() == rec.content_hash => {
                            return Ok(EntryStatus::Unchanged)
                        }
                        Some(_) => EntryStatus::Updated,
                        None => EntryStatus::New,
                    };
                    for (change, value) in rec.changes.iter().zip(&encoded) {
                        write_change(
                            anchors,
                            log,
                            meta,
                            change.previous.as_ref(),
                            &change.new,
                            value,
                            &change.audit,
                        )?;
                    }
                    if let (Some(f), Some((k, v, index, id))) = (rec.finding, &finding) {
                        findings.insert(k, v.as_slice())?;
                        for i in index {
                            mentions.insert(i.as_slice(), &[][..])?;
                        }
                        let e = Enqueue {
                            finding: f,
                            id,
                            delivery: rec.delivery,
                            update: status == EntryStatus::Updated,
                            at: rec.at,
                        };
                        enqueue_tx(outbox, meta, notify, &e)?;
                    }
                    seen.insert(&key, &rec.content_hash)?;
                    Ok(status)
                },
            )
            .map_err(unwrap_tx("record entry"))?;
        if status != EntryStatus::Unchanged {
            self.flush()?;
        }
        Ok(status)
    }
}
