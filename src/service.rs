//! `trustwatch run`: one task per source, each on its own interval with a start-up
//! jitter (so a restart does not hit every vendor at once), backing off exponentially
//! (with jitter, capped) while a source keeps failing and honouring `Retry-After`.
//! A shutdown signal lets every task finish the poll it is in, then the store is
//! flushed and `run` returns. Tasks are owned by a `JoinSet` and awaited; nothing is
//! fire-and-forget. One drain task per chat sink (`notify`) announces that trustwatch
//! is online, then delivers the outbox, woken whenever a poll recorded findings.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::notify::{self, Render};
use crate::poll::{poll_source, sources, Reported};
use crate::store::{self, Store};

/// Longest start-up jitter.
pub const MAX_START_JITTER: Duration = Duration::from_secs(10);
/// Longest wait between polls of a failing source.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// Where new findings are printed (stdout when no chat sink is configured).
pub type Print = Arc<dyn Fn(&Reported) + Send + Sync>;

/// The wait before the next poll of a source: its interval, doubled per consecutive
/// failure up to `MAX_BACKOFF`, up to 10% shorter (jitter spreads the polls without ever
/// making a source wait longer than its interval: a new advisory is seen within one
/// interval), and never before a `Retry-After`.
pub fn next_delay(
    interval: Duration,
    failures: u32,
    retry_until: Option<OffsetDateTime>,
    now: OffsetDateTime,
    jitter: f64,
) -> Duration {
    let base = if failures == 0 {
        interval
    } else {
        let factor = 2u32.saturating_pow(failures.min(16));
        interval
            .saturating_mul(factor)
            .min(MAX_BACKOFF.max(interval))
    };
    let jittered = base.mul_f64(jitter.clamp(0.9, 1.0));
    let until = retry_until
        .map(|t| (t - now).try_into().unwrap_or(Duration::ZERO))
        .unwrap_or(Duration::ZERO);
    jittered.max(until)
}

/// Run until `shutdown` turns true: one poller per source, one drain task per sink
/// in `sinks` (each delivering the outbox rendered by `render`). Returns after every
/// task finished and the store was flushed.
pub async fn run(
    config: Arc<Config>,
    store: Arc<Store>,
    fetcher: Arc<Fetcher>,
    print: Print,
    sinks: Vec<Arc<dyn notify::Sink>>,
    render: Render,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), store::Error> {
    let count = sources(&config).len();
    tracing::info!(
        sources = count,
        sinks = sinks.len(),
        "trustwatch is running"
    );
    let mut tasks = JoinSet::new();
    let mut wakes = Vec::with_capacity(sinks.len());
    for sink in sinks {
        let wake = Arc::new(tokio::sync::Notify::new());
        wakes.push(wake.clone());
        let queued = store.sink_summary(&sink.name())?.pending;
        let online = Some(notify::online_text(count, queued));
        tasks.spawn(notify::run_drain(
            store.clone(),
            sink,
            render.clone(),
            wake,
            shutdown.clone(),
            online,
        ));
    }
    let wakes = Arc::new(wakes);
    for index in 0..count {
        let (config, store, fetcher, print, wakes, mut stop) = (
            config.clone(),
            store.clone(),
            fetcher.clone(),
            print.clone(),
            wakes.clone(),
            shutdown.clone(),
        );
        tasks.spawn(async move {
            let all = sources(&config);
            let Some(source) = all.get(index).copied() else { return };
            let start = rand::rng().random_range(Duration::ZERO..=source.interval.min(MAX_START_JITTER));
            tokio::select! {
                () = tokio::time::sleep(start) => {}
                _ = stop.changed() => return,
            }
            loop {
                // The next poll is timed from this one's start, so a slow poll does not
                // push the schedule back.
                let started = tokio::time::Instant::now();
                let now = OffsetDateTime::now_utc();
                match poll_source(&config, &store, &fetcher, &source, now).await {
                    Ok(found) => {
                        found.iter().for_each(|r| print(r));
                        if !found.is_empty() {
                            wakes.iter().for_each(|w| w.notify_one());
                        }
                    }
                    Err(e) => tracing::error!(source = %source.id(), error = %e, "store error while polling"),
                }
                let state = store.source_state(&source.id()).unwrap_or_default();
                let delay = next_delay(
                    source.interval,
                    state.failures,
                    state.retry_until,
                    OffsetDateTime::now_utc(),
                    rand::rng().random_range(0.9..=1.0),
                );
                tracing::debug!(source = %source.id(), next_in_secs = delay.as_secs(), "scheduled");
                tokio::select! {
                    () = tokio::time::sleep_until(started + delay) => {}
                    _ = stop.changed() => break,
                }
            }
        });
    }
    if count == 0 {
        tracing::warn!(
            "no sources configured: add [[vendor.feed]] or [[vendor.page]] to the config"
        );
        let _ = shutdown.changed().await;
    }
    while let Some(res) = tasks.join_next().await {
        if let Err(e) = res {
            tracing::error!(error = %e, "a task failed");
        }
    }
    store.flush()?;
    tracing::info!("stopped; store flushed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_honours_retry_after() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let i = Duration::from_secs(900);
        assert_eq!(next_delay(i, 0, None, now, 1.0), i);
        assert_eq!(next_delay(i, 1, None, now, 1.0), i * 2);
        assert_eq!(next_delay(i, 3, None, now, 1.0), i * 8);
        assert_eq!(next_delay(i, 30, None, now, 1.0), MAX_BACKOFF);
        assert_eq!(next_delay(i, 0, None, now, 5.0), i);
        assert_eq!(next_delay(i, 0, None, now, 0.1), i.mul_f64(0.9));
        let later = now + time::Duration::hours(2);
        assert_eq!(
            next_delay(i, 1, Some(later), now, 1.0),
            Duration::from_secs(7200)
        );
    }
}
