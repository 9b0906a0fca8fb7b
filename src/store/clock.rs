//! The latest wall-clock time the store has seen, so a clock that stepped backwards
//! (a dead RTC battery, a VM restored from a snapshot, NTP gone wrong, or someone
//! winding it back so an expired or revoked certificate looks valid again) is noticed
//! before trust is decided on it.
//!
//! Invariant: the remembered time only ever grows (a monotonic maximum); it is moved by
//! clock readings only (verify, poll, run), never by a time an operator chose
//! (`verify --at`). Not flushed on every reading: sled writes it back within a second,
//! and losing the last second of it is harmless.

use std::time::Duration;

use time::OffsetDateTime;

use super::{io, Error, Store};

const META_CLOCK: &[u8] = b"clock_latest";

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

    #[test]
    fn an_unreadable_remembered_clock_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        s.meta.insert(META_CLOCK, &b"bad"[..]).unwrap();
        assert_eq!(s.observe_clock(at(7), TOL).unwrap(), ClockCheck::Ok);
        assert_eq!(s.latest_clock().unwrap(), Some(at(7)));
    }
}
