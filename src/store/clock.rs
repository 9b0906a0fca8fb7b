//! The latest wall-clock time the store has seen, so a clock that stepped backwards
//! (a dead RTC battery, a VM restored from a snapshot, NTP gone wrong, or someone
//! winding it back so an expired or revoked certificate looks valid again) is noticed
//! before trust is decided on it.
//!
//! Invariant: the remembered time only ever grows (a monotonic maximum); it is moved by
//! clock readings only (verify, poll, run), never by a time an operator chose
//! (`verify --at`). Written only when a reading is more than `GRANULARITY` past it, and
//! not flushed: sled writes it back within a second, and a remembered time a minute
//! stale is harmless against a 5-minute tolerance. (Writing on every reading cost every
//! `verify` a log write, a flush at exit and a sled snapshot at the next open: about
//! a fifth of a small package's verification.)
//!
//! The one way down is [`Store::reset_clock`] (`trustwatch store clock --reset`), for a
//! clock that once jumped *forward* and was corrected: the remembered time is then in
//! the future and would refuse verification until real time caught up. It sets the
//! remembered time to the clock's reading, only when the reading is behind it by more
//! than the tolerance (otherwise nothing is refused and nothing changes), and writes an
//! audit entry naming who did it, in the same transaction, flushed before returning. A
//! person winding the clock back to make an expired certificate valid could use it too;
//! that is why it is audited, and why `verify` keeps refusing until someone does.

use std::time::Duration;

use sled::transaction::{ConflictableTransactionError, Transactional};
use time::OffsetDateTime;

use super::{codec, io, next_seq, unwrap_tx, Error, Store, META_AUDIT_SEQ};
use crate::trust::{AuditAction, AuditDraft, AuditEntry};

const META_CLOCK: &[u8] = b"clock_latest";
/// How far a reading must be past the remembered time before it is written.
const GRANULARITY: i64 = 60;

/// What a clock reading found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockCheck {
    /// The reading is not behind the remembered time by more than the tolerance; the
    /// remembered time is now the later of the two.
    Ok,
    /// The reading is behind the latest time seen by more than the tolerance; nothing
    /// was remembered.
    Behind { latest: OffsetDateTime },
}

/// What [`Store::reset_clock`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockReset {
    /// The remembered time was ahead of the clock by more than the tolerance and is now
    /// the clock's reading; `entry` is the audit record written with it.
    Reset { entry: AuditEntry },
    /// Nothing to reset: the clock is not behind the remembered time (if any) by more
    /// than the tolerance, so verification is not refused on its account. Unchanged.
    NotNeeded { latest: Option<OffsetDateTime> },
}

fn time_of(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn decode(v: &[u8]) -> Option<i64> {
    <[u8; 8]>::try_from(v).ok().map(i64::from_be_bytes)
}

impl Store {
    /// Compare the clock reading `now` with the latest time seen, and remember `now`
    /// when it is later. `Behind` when `now` is more than `tolerance` earlier.
    pub fn observe_clock(
        &self,
        now: OffsetDateTime,
        tolerance: Duration,
    ) -> Result<ClockCheck, Error> {
        let now_s = now.unix_timestamp();
        let tol = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        // Most readings change nothing worth writing: decide those without a write.
        let stored = self
            .meta
            .get(META_CLOCK)
            .map_err(io("read the remembered clock"))?;
        match stored.as_deref().and_then(decode) {
            Some(latest) if now_s.saturating_add(tol) < latest => {
                return Ok(ClockCheck::Behind {
                    latest: OffsetDateTime::from_unix_timestamp(latest)
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                })
            }
            Some(latest) if now_s < latest.saturating_add(GRANULARITY) => {
                return Ok(ClockCheck::Ok)
            }
            _ => {}
        }
        let mut behind = None;
        let mut unreadable = false;
        self.meta
            .fetch_and_update(META_CLOCK, |old| {
                behind = None;
                unreadable = old.is_some_and(|v| decode(v).is_none());
                match old.and_then(decode) {
                    Some(latest) if now_s.saturating_add(tol) < latest => {
                        behind = Some(latest);
                        old.map(<[u8]>::to_vec)
                    }
                    Some(latest) if latest >= now_s => old.map(<[u8]>::to_vec),
                    _ => Some(now_s.to_be_bytes().to_vec()),
                }
            })
            .map_err(io("remember the clock"))?;
        if unreadable {
            tracing::warn!(key = "clock_latest", "unreadable remembered clock replaced");
        }
        Ok(match behind {
            Some(latest) => ClockCheck::Behind {
                latest: OffsetDateTime::from_unix_timestamp(latest)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            },
            None => ClockCheck::Ok,
        })
    }

    /// Set the remembered time back to the clock reading `audit.at`, when it is ahead
    /// of it by more than `tolerance`, and append an audit entry (action `clock_reset`,
    /// `audit.actor`, `audit.reason`) in the same transaction; flushes before returning.
    pub fn reset_clock(
        &self,
        audit: &AuditDraft,
        tolerance: Duration,
    ) -> Result<ClockReset, Error> {
        let now = audit.at.unix_timestamp();
        let tol = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
        let result = (&self.meta, &self.audit).transaction(|(meta, log)| {
            let latest = meta.get(META_CLOCK)?.as_deref().and_then(decode);
            let Some(from) = latest.filter(|&l| now.saturating_add(tol) < l) else {
                return Ok(ClockReset::NotNeeded {
                    latest: latest.map(time_of),
                });
            };
            let seq = next_seq(meta.get(META_AUDIT_SEQ)?.as_deref());
            let entry = AuditEntry {
                seq,
                at: audit.at,
                actor: audit.actor.clone(),
                action: AuditAction::ClockReset,
                sha256: None,
                vendor: String::new(),
                from_state: None,
                to_state: None,
                reason: audit.reason.clone(),
                source: audit.source.clone(),
                clock_from: Some(time_of(from)),
                clock_to: Some(time_of(now)),
            };
            let encoded = codec::encode(&entry).map_err(ConflictableTransactionError::Abort)?;
            meta.insert(META_CLOCK, &now.to_be_bytes())?;
            log.insert(&seq.to_be_bytes(), encoded)?;
            meta.insert(META_AUDIT_SEQ, &seq.to_be_bytes())?;
            Ok(ClockReset::Reset { entry })
        });
        let outcome = result.map_err(unwrap_tx("reset the remembered clock"))?;
        if matches!(outcome, ClockReset::Reset { .. }) {
            self.flush()?;
        }
        Ok(outcome)
    }

    /// The latest clock reading remembered, if any.
    pub fn latest_clock(&self) -> Result<Option<OffsetDateTime>, Error> {
        Ok(self
            .meta
            .get(META_CLOCK)
            .map_err(io("read the remembered clock"))?
            .and_then(|v| decode(&v))
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    const TOL: Duration = Duration::from_secs(300);

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn the_remembered_clock_only_grows_and_a_step_back_is_behind() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(s.latest_clock().unwrap(), None);
        assert_eq!(s.observe_clock(at(1000), TOL).unwrap(), ClockCheck::Ok);
        assert_eq!(s.latest_clock().unwrap(), Some(at(1000)));
        // Within the tolerance: fine, and the later time stays.
        assert_eq!(
            s.observe_clock(at(1000 - 300), TOL).unwrap(),
            ClockCheck::Ok
        );
        assert_eq!(s.latest_clock().unwrap(), Some(at(1000)));
        // Beyond it: behind, and nothing is remembered.
        assert_eq!(
            s.observe_clock(at(1000 - 301), TOL).unwrap(),
            ClockCheck::Behind { latest: at(1000) }
        );
        assert_eq!(s.latest_clock().unwrap(), Some(at(1000)));
        assert_eq!(s.observe_clock(at(2000), TOL).unwrap(), ClockCheck::Ok);
        assert_eq!(s.latest_clock().unwrap(), Some(at(2000)));
        // Readings within a minute of it are not written; later ones are.
        assert_eq!(s.observe_clock(at(2059), TOL).unwrap(), ClockCheck::Ok);
        assert_eq!(s.latest_clock().unwrap(), Some(at(2000)));
        assert_eq!(s.observe_clock(at(2060), TOL).unwrap(), ClockCheck::Ok);
        assert_eq!(s.latest_clock().unwrap(), Some(at(2060)));
    }

    #[test]
    fn the_remembered_clock_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
            s.observe_clock(at(5000), TOL).unwrap();
            s.flush().unwrap();
        }
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(
            s.observe_clock(at(0), TOL).unwrap(),
            ClockCheck::Behind { latest: at(5000) }
        );
    }

    fn draft(secs: i64) -> AuditDraft {
        AuditDraft {
            at: at(secs),
            actor: "cli:ops".into(),
            action: AuditAction::ClockReset,
            reason: Some("RTC ran ahead".into()),
            source: None,
        }
    }

    #[test]
    fn a_reset_brings_a_future_remembered_clock_back_and_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        // Nothing remembered, or not ahead by more than the tolerance: nothing to do.
        assert_eq!(
            s.reset_clock(&draft(0), TOL).unwrap(),
            ClockReset::NotNeeded { latest: None }
        );
        s.observe_clock(at(1000), TOL).unwrap();
        assert_eq!(
            s.reset_clock(&draft(700), TOL).unwrap(),
            ClockReset::NotNeeded {
                latest: Some(at(1000))
            }
        );
        assert!(s.audit().unwrap().is_empty());
        // The clock ran ahead to +1000 and was corrected to +0: verify is refused.
        assert!(matches!(
            s.observe_clock(at(0), TOL).unwrap(),
            ClockCheck::Behind { .. }
        ));
        let ClockReset::Reset { entry } = s.reset_clock(&draft(0), TOL).unwrap() else {
            panic!("not reset");
        };
        assert_eq!(entry.seq, 1);
        assert_eq!(entry.action, AuditAction::ClockReset);
        assert_eq!(entry.actor, "cli:ops");
        assert_eq!(entry.reason.as_deref(), Some("RTC ran ahead"));
        assert_eq!(
            (entry.clock_from, entry.clock_to),
            (Some(at(1000)), Some(at(0)))
        );
        assert_eq!(entry.sha256, None);
        assert_eq!(s.audit().unwrap(), vec![entry]);
        assert_eq!(s.latest_clock().unwrap(), Some(at(0)));
        assert_eq!(s.observe_clock(at(1), TOL).unwrap(), ClockCheck::Ok);
        // It still only grows afterwards (written once a reading is a minute past it).
        assert_eq!(s.observe_clock(at(61), TOL).unwrap(), ClockCheck::Ok);
        assert_eq!(s.latest_clock().unwrap(), Some(at(61)));
    }

    #[test]
    fn an_unreadable_remembered_clock_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        s.meta.insert(META_CLOCK, &b"bad"[..]).unwrap();
        assert_eq!(s.observe_clock(at(7), TOL).unwrap(), ClockCheck::Ok);
        assert_eq!(s.latest_clock().unwrap(), Some(at(7)));
    }
}
