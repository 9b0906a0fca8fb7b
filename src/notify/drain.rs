//! Draining one sink's outbox: oldest due item first, mark delivered only after the
//! sink accepted it. A retryable failure backs the whole sink off (1 s doubling to
//! 5 min, ±20% jitter, never sooner than the sink's `Retry-After`); a permanent one
//! keeps the item as failed, retried after [`PERMANENT_RETRY`], and moves on.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};

use super::{DeliveryError, Notice, Render, Sink};
use crate::store::{self, OutboxItem, Store};

/// First wait after a retryable failure.
pub const MIN_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Longest wait between retries of a sink that is down: long enough not to hammer a
/// chat service during an outage, short enough that findings arrive soon after it.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(5 * 60);
/// Longest `Retry-After` honoured (a misconfigured proxy could say a week).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// When an item the sink refused is tried again (a fixed sink or config may accept it).
pub const PERMANENT_RETRY: Duration = Duration::from_secs(6 * 3600);
/// How often an idle drain task looks at the outbox without being woken.
pub const TICK: Duration = Duration::from_secs(60);
/// Items read from the store at once.
pub const BATCH: usize = 50;
/// Clock slack: an item whose next attempt is this close is due (timers and the wall
/// clock drift apart by a few milliseconds).
const SLACK: Duration = Duration::from_millis(50);

/// Exponential backoff of one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consecutive retryable failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Count one more failure; the wait before the next try. `jitter` is clamped to
    /// 0.8..=1.2; `after` (Retry-After) is a floor, capped at an hour.
    pub fn failed(&mut self, after: Option<Duration>, jitter: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let factor = 2u32.saturating_pow(self.failures.saturating_sub(1).min(20));
        let base = MIN_RETRY_DELAY.saturating_mul(factor).min(MAX_RETRY_DELAY);
        let jittered = base.mul_f64(jitter.clamp(0.8, 1.2)).min(MAX_RETRY_DELAY);
        jittered.max(after.unwrap_or_default().min(MAX_RETRY_AFTER))
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

fn jitter() -> f64 {
    rand::rng().random_range(0.8..=1.2)
}

fn notice(item: &OutboxItem) -> Notice {
    Notice {
        id: item.id.clone(),
        finding: item.finding.clone(),
        update: item.update,
        queued: item.queued,
    }
}

/// What one pass over the due items ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// Nothing due is left.
    Idle { delivered: usize },
    /// The sink asked to retry: wait `delay` before the next pass.
    Retry {
        delivered: usize,
        delay: Duration,
        reason: String,
    },
}

/// Deliver every due item of `sink`, oldest first, until none is due or the sink
/// asks to retry. Store errors end the pass.
pub async fn drain_pass(
    store: &Store,
    sink: &dyn Sink,
    render: &Render,
    backoff: &mut Backoff,
) -> Result<Pass, store::Error> {
    let name = sink.name();
    let mut delivered = 0;
    loop {
        let now = OffsetDateTime::now_utc();
        let due = store.outbox_due(&name, now + SLACK, BATCH)?;
        if due.is_empty() {
            return Ok(Pass::Idle { delivered });
        }
        // The poller records a source's entries in batches and flushes once per poll:
        // make what is about to be sent durable first, so a crash can never leave a
        // delivered notice that the store then forgets and records (and sends) again.
        store.flush()?;
        for item in due {
            let notice = notice(&item);
            let message = render(&notice);
            let result = sink.deliver(&notice, &message).await;
            let now = OffsetDateTime::now_utc();
            match result {
                Ok(()) => {
                    store.mark_delivered(&item, now)?;
                    backoff.reset();
                    delivered += 1;
                    tracing::info!(sink = %name, id = %item.id, attempts = item.attempts + 1, title = %item.finding.title, "delivered");
                }
                Err(DeliveryError::Retry { after, reason }) => {
                    let delay = backoff.failed(after, jitter());
                    store.mark_failed(&item, &reason, now + delay, false, now)?;
                    let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                    tracing::warn!(sink = %name, id = %item.id, error = %reason, retry_in_ms, "queued: delivery failed, retrying");
                    return Ok(Pass::Retry {
                        delivered,
                        delay,
                        reason,
                    });
                }
                Err(DeliveryError::Permanent { reason }) => {
                    store.mark_failed(&item, &reason, now + PERMANENT_RETRY, true, now)?;
                    tracing::error!(sink = %name, id = %item.id, error = %reason, retry_in_secs = PERMANENT_RETRY.as_secs(), "refused by the sink: kept as failed");
                }
            }
        }
    }
}

/// The drain task of one sink: announce `online` (failure logged), then drain, waking
/// on `wake` (poll enqueued), on [`TICK`], or after a backoff; returns on `shutdown`.
/// An in-flight delivery finishes first (it is bounded by the HTTP timeouts).
pub async fn run_drain(
    store: Arc<Store>,
    sink: Arc<dyn Sink>,
    render: Render,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    online: Option<String>,
) {
    let name = sink.name();
    if let Some(text) = online {
        match sink.announce(&text).await {
            Ok(()) => tracing::info!(sink = %name, "announced online"),
            Err(e) => tracing::warn!(sink = %name, error = %e, "online announcement failed"),
        }
    }
    let mut backoff = Backoff::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (wait, wakeable) = match drain_pass(&store, sink.as_ref(), &render, &mut backoff).await
        {
            Ok(Pass::Idle { .. }) => (TICK, true),
            Ok(Pass::Retry { delay, .. }) => (delay + SLACK, false),
            Err(e) => {
                tracing::error!(sink = %name, error = %e, "store error while delivering");
                (TICK, false)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified(), if wakeable => {}
            _ = shutdown.changed() => break,
        }
    }
    tracing::debug!(sink = %name, "drain task stopped");
}

/// Limits of a bounded drain (`poll --once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Passes that may end in a retryable failure before giving up.
    pub attempts: u32,
    /// Wall time for the whole drain, waits included.
    pub total: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            attempts: 3,
            total: Duration::from_secs(30),
        }
    }
}

/// What a bounded drain did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainReport {
    pub sink: String,
    pub delivered: usize,
    /// Items left in the outbox (due later, failed, or refused).
    pub remaining: u64,
    pub last_error: Option<String>,
}

/// Drain `sink` within `budget`, leaving the rest queued.
pub async fn drain_bounded(
    store: &Store,
    sink: &dyn Sink,
    render: &Render,
    budget: Budget,
) -> Result<DrainReport, store::Error> {
    let start = tokio::time::Instant::now();
    let mut backoff = Backoff::new();
    let (mut tries, mut delivered, mut last_error) = (0, 0, None);
    loop {
        match drain_pass(store, sink, render, &mut backoff).await? {
            Pass::Idle { delivered: d } => {
                delivered += d;
                break;
            }
            Pass::Retry {
                delivered: d,
                delay,
                reason,
            } => {
                delivered += d;
                tries += 1;
                last_error = Some(reason);
                if tries >= budget.attempts || start.elapsed() + delay > budget.total {
                    break;
                }
                tokio::time::sleep(delay + SLACK).await;
            }
        }
    }
    let summary = store.sink_summary(&sink.name())?;
    Ok(DrainReport {
        sink: sink.name(),
        delivered,
        remaining: summary.pending,
        last_error: last_error.or(summary.last_error),
    })
}

/// Send `text` to every sink; each sink's name and result, in order.
pub async fn announce_all(
    sinks: &[Arc<dyn Sink>],
    text: &str,
) -> Vec<(String, Result<(), DeliveryError>)> {
    let mut out = Vec::with_capacity(sinks.len());
    for s in sinks {
        out.push((s.name(), s.announce(text).await));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes() {
        let mut b = Backoff::new();
        let waits: Vec<u64> = (0..12).map(|_| b.failed(None, 1.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(b.failures(), 12);
        b.reset();
        assert_eq!(b.failed(None, 1.0), MIN_RETRY_DELAY);
    }

    #[test]
    fn backoff_jitter_is_bounded_and_retry_after_is_a_floor() {
        let mut b = Backoff::new();
        assert_eq!(b.failed(None, 9.0), Duration::from_millis(1200));
        let mut b = Backoff::new();
        assert_eq!(b.failed(None, 0.0), Duration::from_millis(800));
        let mut b = Backoff::new();
        assert_eq!(
            b.failed(Some(Duration::from_secs(7)), 1.0),
            Duration::from_secs(7)
        );
        // Retry-After beyond the cap is honoured up to an hour, not a week.
        let mut b = Backoff::new();
        assert_eq!(
            b.failed(Some(Duration::from_secs(7 * 86_400)), 1.0),
            MAX_RETRY_AFTER
        );
        // Jitter never takes the wait past the cap.
        let mut b = Backoff { failures: 30 };
        assert_eq!(b.failed(None, 1.2), MAX_RETRY_DELAY);
    }
}
