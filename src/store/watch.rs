//! What the watchers remember: which entries of which source were seen (with their
//! content hash, so an edit is an update), each source's state (first poll done, HTTP
//! validators, failure streak), and the recording of one entry: its finding, the
//! candidate anchors and revocations it causes, their audit entries, and its outbox
//! items (or the reason it is not posted), in one transaction per batch of entries; the
//! poller flushes before it reports anything.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::Transactional;
use time::OffsetDateTime;

use super::outbox::{abort, enqueue_tx, notice_id, Delivery, Enqueue};
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

    /// Write a source's state. Not flushed: the poller flushes once per poll.
    pub fn put_source_state(&self, source: &str, state: &SourceState) -> Result<(), Error> {
        self.sources
            .insert(source.as_bytes(), codec::encode(state)?)
            .map_err(io("write source state"))?;
        Ok(())
    }

    /// Whether an entry was seen before, and with which content hash.
    pub fn seen(&self, source: &str, entry_id: &str) -> Result<Option<[u8; 32]>, Error> {
        Ok(self
            .seen
            .get(seen_key(source, entry_id))
            .map_err(io("read seen entry"))?
            .and_then(|v| <[u8; 32]>::try_from(v.as_ref()).ok()))
    }

    /// Record a batch of one source's entries, their findings and the anchor changes
    /// they cause, in one transaction. An entry
    /// already seen with the same content changes nothing. Not flushed: the caller
    /// flushes (`Store::flush`) before it reports anything, so a poll costs one fsync
    /// per source rather than one per entry (sled's fsync dominated a poll: 10,000
    /// entries took 4 s, 90% of it waiting on `sync_file_range`). A crash before that
    /// flush loses the batch whole, nothing reported from it, and the next poll records
    /// it again. The changes of different records must not touch the same anchor: each
    /// is planned against the store as committed (compare-and-swap would refuse the
    /// second, aborting the batch), so the poller records anchor-changing entries alone.
    pub fn record_entries(&self, recs: &[EntryRecord<'_>]) -> Result<Vec<EntryStatus>, Error> {
        (
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
                    let mut statuses = Vec::with_capacity(recs.len());
                    for rec in recs {
                        let key = seen_key(rec.source, rec.entry_id);
                        let status = match seen.get(key)? {
                            Some(old) if old.as_ref() == rec.content_hash => {
                                statuses.push(EntryStatus::Unchanged);
                                continue;
                            }
                            Some(_) => EntryStatus::Updated,
                            None => EntryStatus::New,
                        };
                        // Encoded only for entries that changed: most of a poll is
                        // entries seen before.
                        for change in rec.changes {
                            let value = codec::encode(&change.new).map_err(abort)?;
                            write_change(
                                anchors,
                                log,
                                meta,
                                change.previous.as_ref(),
                                &change.new,
                                &value,
                                &change.audit,
                            )?;
                        }
                        if let Some(f) = rec.finding {
                            let k = Self::finding_key(f);
                            findings.insert(&k, codec::encode(f).map_err(abort)?)?;
                            for i in index_keys(f, &k) {
                                mentions.insert(i, &[][..])?;
                            }
                            let id = notice_id(f).map_err(abort)?;
                            let e = Enqueue {
                                finding: f,
                                id: &id,
                                delivery: rec.delivery,
                                update: status == EntryStatus::Updated,
                                at: rec.at,
                            };
                            enqueue_tx(outbox, meta, notify, &e)?;
                        }
                        seen.insert(&key, &rec.content_hash)?;
                        statuses.push(status);
                    }
                    Ok(statuses)
                },
            )
            .map_err(unwrap_tx("record entries"))
    }
}
