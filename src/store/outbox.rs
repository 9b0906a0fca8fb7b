//! The outbox: notices recorded for delivery to chat sinks, and the reasons findings
//! were not posted.
//!
//! Invariants:
//! - an item is enqueued in the same sled transaction that records its finding (see
//!   `watch.rs` and [`Store::record_finding`]), so a recorded finding always has its
//!   items, and a finding that did not change enqueues nothing;
//! - an item leaves the outbox only through [`Store::mark_delivered`], called after the
//!   sink accepted it; a failed item stays (with its error and next attempt), so nothing
//!   is lost; every mark is flushed before it returns (LIBRARIES.md §2);
//! - an item's `id` is derived from the finding's key and content, so it is the same
//!   across retries and restarts (a Discord `nonce`, a webhook `Idempotency-Key`) and
//!   different for an edited finding.
//!
//! Keys: `outbox` = sink name, 0, sequence number (big-endian u64, so a prefix scan is
//! oldest first); `notify` = `sink\0<name>` (delivery statistics) and
//! `not_posted\0<reason>` (counts of findings recorded without being enqueued).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::Transactional;
use time::OffsetDateTime;

use super::{codec, io, next_seq, unwrap_tx, Error, Store, Tx, TxResult};
use crate::advisory::Finding;

pub(super) const META_OUTBOX_SEQ: &[u8] = b"outbox_seq";
/// Characters of an item id: Discord's `nonce` allows 25.
pub const ID_CHARS: usize = 24;

/// Why a recorded finding was not enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotPostedReason {
    /// Published before the backfill window on a source's first poll (CONTRACT §5).
    Backfill,
    /// Its kind is not in `chat.notify`.
    Filtered,
}

impl NotPostedReason {
    pub const ALL: [Self; 2] = [Self::Backfill, Self::Filtered];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backfill => "backfill",
            Self::Filtered => "filtered",
        }
    }
}

/// What to do with a finding when it is recorded (new or updated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// Enqueue one item per sink named here (none: stdout and the log only).
    To(&'a [String]),
    /// Record it without enqueuing, and count why.
    NotPosted(NotPostedReason),
}

/// One notice waiting for one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub sink: String,
    /// Position in the sink's queue (oldest first).
    pub seq: u64,
    /// Stable id (at most [`ID_CHARS`] characters): same across retries and restarts.
    pub id: String,
    pub finding: Finding,
    pub update: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub queued: OffsetDateTime,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt: OffsetDateTime,
    /// The sink refused it for good (a 4xx); retried only much later.
    pub failed: bool,
}

/// Delivery statistics of one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SinkStats {
    delivered: u64,
    #[serde(default, with = "time::serde::rfc3339::option")]
    last_delivered: Option<OffsetDateTime>,
    /// Since when retryable failures have kept it from delivering.
    #[serde(default, with = "time::serde::rfc3339::option")]
    down_since: Option<OffsetDateTime>,
    last_error: Option<String>,
}

/// The outbox of one sink, for status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkSummary {
    pub sink: String,
    /// Items waiting, failed ones included.
    pub pending: u64,
    /// Items the sink refused for good (kept, retried much later).
    pub failed: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub oldest: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub down_since: Option<OffsetDateTime>,
    pub delivered: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_delivered: Option<OffsetDateTime>,
}

/// How many findings were recorded without being enqueued, for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotPosted {
    pub reason: NotPostedReason,
    pub count: u64,
    pub last_title: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_at: Option<OffsetDateTime>,
}

/// The stable id of a finding's notice: its key and content, hashed, in hex.
pub fn notice_id(finding: &Finding) -> Result<String, Error> {
    let mut h = Sha256::new();
    h.update(Store::finding_key(finding));
    h.update(codec::encode(finding)?);
    let mut id = hex::encode(h.finalize());
    id.truncate(ID_CHARS);
    Ok(id)
}

pub(super) fn item_key(sink: &str, seq: u64) -> Vec<u8> {
    [sink.as_bytes(), &[0], &seq.to_be_bytes()].concat()
}

fn prefix(sink: &str) -> Vec<u8> {
    [sink.as_bytes(), &[0]].concat()
}

fn stats_key(sink: &str) -> Vec<u8> {
    [b"sink\0".as_slice(), sink.as_bytes()].concat()
}

fn not_posted_key(reason: NotPostedReason) -> Vec<u8> {
    [b"not_posted\0".as_slice(), reason.as_str().as_bytes()].concat()
}

pub(super) fn abort(e: Error) -> sled::transaction::ConflictableTransactionError<Error> {
    sled::transaction::ConflictableTransactionError::Abort(e)
}

/// One finding to enqueue (or count) inside a recording transaction.
pub(super) struct Enqueue<'a> {
    pub(super) finding: &'a Finding,
    pub(super) id: &'a str,
    pub(super) delivery: Delivery<'a>,
    pub(super) update: bool,
    pub(super) at: OffsetDateTime,
}

/// Inside the recording transaction: enqueue the finding per its delivery, or count
/// why not. Returns the number of items enqueued.
pub(super) fn enqueue_tx(outbox: &Tx, meta: &Tx, notify: &Tx, e: &Enqueue<'_>) -> TxResult<usize> {
    let Enqueue {
        finding,
        id,
        delivery,
        update,
        at,
    } = *e;
    match delivery {
        Delivery::To(sinks) => {
            for sink in sinks {
                let seq = next_seq(meta.get(META_OUTBOX_SEQ)?.as_deref());
                meta.insert(META_OUTBOX_SEQ, &seq.to_be_bytes())?;
                let item = OutboxItem {
                    sink: sink.clone(),
                    seq,
                    id: id.to_owned(),
                    finding: finding.clone(),
                    update,
                    queued: at,
                    attempts: 0,
                    last_error: None,
                    next_attempt: at,
                    failed: false,
                };
                outbox.insert(item_key(sink, seq), codec::encode(&item).map_err(abort)?)?;
            }
            Ok(sinks.len())
        }
        Delivery::NotPosted(reason) => {
            let key = not_posted_key(reason);
            let mut rec = match notify.get(&key)? {
                Some(v) => codec::decode::<NotPosted>("notify", &v).map_err(abort)?,
                None => NotPosted {
                    reason,
                    count: 0,
                    last_title: None,
                    last_at: None,
                },
            };
            rec.count += 1;
            rec.last_title = Some(finding.title.clone());
            rec.last_at = Some(at);
            notify.insert(key, codec::encode(&rec).map_err(abort)?)?;
            Ok(0)
        }
    }
}

impl Store {
    /// Every item waiting in every sink's queue (for backups), in key order.
    pub(super) fn outbox_items(&self) -> Result<Vec<OutboxItem>, Error> {
        self.outbox
            .iter()
            .map(|item| {
                let (_, v) = item.map_err(io("read outbox"))?;
                codec::decode("outbox", &v)
            })
            .collect()
    }
}

impl Store {
    /// Up to `limit` items of `sink` due at `now` (next attempt reached), oldest first.
    /// An item waiting out a retryable failure holds back every item behind it, so a
    /// sink that comes back (or a restarted `run`, whose backoff starts afresh) gets
    /// them in order; an item the sink refused for good does not block the queue.
    pub fn outbox_due(
        &self,
        sink: &str,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, Error> {
        let mut out = Vec::new();
        for item in self.outbox.scan_prefix(prefix(sink)) {
            let (_, v) = item.map_err(io("read outbox"))?;
            let item: OutboxItem = codec::decode("outbox", &v)?;
            if item.next_attempt <= now {
                out.push(item);
                if out.len() >= limit {
                    break;
                }
            } else if !item.failed {
                break;
            }
        }
        Ok(out)
    }

    /// Up to `limit` items of `sink`, due or not, oldest first.
    pub fn outbox_pending(&self, sink: &str, limit: usize) -> Result<Vec<OutboxItem>, Error> {
        self.outbox
            .scan_prefix(prefix(sink))
            .take(limit)
            .map(|item| {
                let (_, v) = item.map_err(io("read outbox"))?;
                codec::decode("outbox", &v)
            })
            .collect()
    }

    /// The sink accepted `item`: remove it and count it; flushed before returning.
    pub fn mark_delivered(&self, item: &OutboxItem, at: OffsetDateTime) -> Result<(), Error> {
        let key = item_key(&item.sink, item.seq);
        let skey = stats_key(&item.sink);
        (&self.outbox, &self.notify)
            .transaction(|(outbox, notify)| {
                if outbox.remove(key.as_slice())?.is_none() {
                    return Ok(());
                }
                let mut stats = read_stats(notify, &skey)?;
                stats.delivered += 1;
                stats.last_delivered = Some(at);
                stats.down_since = None;
                stats.last_error = None;
                notify.insert(skey.as_slice(), codec::encode(&stats).map_err(abort)?)?;
                Ok(())
            })
            .map_err(unwrap_tx("mark outbox item delivered"))?;
        self.flush()
    }

    /// Delivering `item` failed: keep it, with the error and when to try again.
    /// `permanent`: the sink refused this item (it is not down). Flushed before returning.
    pub fn mark_failed(
        &self,
        item: &OutboxItem,
        error: &str,
        next_attempt: OffsetDateTime,
        permanent: bool,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let key = item_key(&item.sink, item.seq);
        let skey = stats_key(&item.sink);
        (&self.outbox, &self.notify)
            .transaction(|(outbox, notify)| {
                let Some(v) = outbox.get(key.as_slice())? else {
                    return Ok(());
                };
                let mut stored: OutboxItem = codec::decode("outbox", &v).map_err(abort)?;
                stored.attempts = stored.attempts.saturating_add(1);
                stored.last_error = Some(error.to_owned());
                stored.next_attempt = next_attempt;
                stored.failed = permanent;
                outbox.insert(key.as_slice(), codec::encode(&stored).map_err(abort)?)?;
                let mut stats = read_stats(notify, &skey)?;
                if !permanent {
                    stats.down_since.get_or_insert(at);
                }
                stats.last_error = Some(error.to_owned());
                notify.insert(skey.as_slice(), codec::encode(&stats).map_err(abort)?)?;
                Ok(())
            })
            .map_err(unwrap_tx("mark outbox item failed"))?;
        self.flush()
    }

    /// Every sink with queued items or a delivery history, by name.
    pub fn outbox_summary(&self) -> Result<Vec<SinkSummary>, Error> {
        let mut out: Vec<SinkSummary> = Vec::new();
        for item in &self.outbox {
            let (_, v) = item.map_err(io("read outbox"))?;
            let item: OutboxItem = codec::decode("outbox", &v)?;
            let s = summary_for(&mut out, &item.sink);
            s.pending += 1;
            s.failed += u64::from(item.failed);
            s.oldest = Some(s.oldest.map_or(item.queued, |o| o.min(item.queued)));
            s.next_attempt = Some(
                s.next_attempt
                    .map_or(item.next_attempt, |n| n.min(item.next_attempt)),
            );
        }
        for item in self.notify.scan_prefix(b"sink\0") {
            let (k, v) = item.map_err(io("read sink statistics"))?;
            let name = String::from_utf8_lossy(&k[5..]).into_owned();
            let stats: SinkStats = codec::decode("notify", &v)?;
            let s = summary_for(&mut out, &name);
            s.delivered = stats.delivered;
            s.last_delivered = stats.last_delivered;
            s.last_error = stats.last_error;
            s.down_since = stats.down_since;
        }
        out.sort_by(|a, b| a.sink.cmp(&b.sink));
        Ok(out)
    }

    /// The summary of one sink (zeros when it never had anything).
    pub fn sink_summary(&self, sink: &str) -> Result<SinkSummary, Error> {
        Ok(self
            .outbox_summary()?
            .into_iter()
            .find(|s| s.sink == sink)
            .unwrap_or_else(|| SinkSummary {
                sink: sink.to_owned(),
                ..SinkSummary::default()
            }))
    }

    /// How many findings were recorded without being enqueued, per reason.
    pub fn not_posted(&self, reason: NotPostedReason) -> Result<NotPosted, Error> {
        match self
            .notify
            .get(not_posted_key(reason))
            .map_err(io("read not-posted counts"))?
        {
            Some(v) => codec::decode("notify", &v),
            None => Ok(NotPosted {
                reason,
                count: 0,
                last_title: None,
                last_at: None,
            }),
        }
    }

    /// Store a finding that has no feed entry (a `source_error`) and enqueue it per
    /// `delivery`, in one transaction; flushed. False when the identical finding was
    /// already stored (nothing is enqueued then).
    pub fn record_finding(
        &self,
        finding: &Finding,
        delivery: Delivery<'_>,
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        let key = Self::finding_key(finding);
        let value = codec::encode(finding)?;
        let index = super::index_keys(finding, &key);
        let id = notice_id(finding)?;
        let changed = (
            &self.findings,
            &self.mentions,
            &self.outbox,
            &self.meta,
            &self.notify,
        )
            .transaction(|(findings, mentions, outbox, meta, notify)| {
                let update = match findings.get(key)? {
                    Some(old) if old.as_ref() == value.as_slice() => return Ok(false),
                    Some(_) => true,
                    None => false,
                };
                findings.insert(&key, value.as_slice())?;
                for i in &index {
                    mentions.insert(i.as_slice(), &[][..])?;
                }
                let e = Enqueue {
                    finding,
                    id: &id,
                    delivery,
                    update,
                    at,
                };
                enqueue_tx(outbox, meta, notify, &e)?;
                Ok(true)
            })
            .map_err(unwrap_tx("record finding"))?;
        if changed {
            self.flush()?;
        }
        Ok(changed)
    }
}

fn read_stats(notify: &Tx, key: &[u8]) -> TxResult<SinkStats> {
    match notify.get(key)? {
        Some(v) => codec::decode("notify", &v).map_err(abort),
        None => Ok(SinkStats::default()),
    }
}

fn summary_for<'a>(out: &'a mut Vec<SinkSummary>, sink: &str) -> &'a mut SinkSummary {
    let at = match out.iter().position(|s| s.sink == sink) {
        Some(i) => i,
        None => {
            out.push(SinkSummary {
                sink: sink.to_owned(),
                ..SinkSummary::default()
            });
            out.len() - 1
        }
    };
    &mut out[at]
}
