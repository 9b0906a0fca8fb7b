//! One poll cycle over every configured source: fetch -> parse -> understand -> record,
//! returning the findings to report.
//!
//! Rules (CONTRACT §5): a finding is reported once, and again (as an update) when its
//! entry is edited; on a source's first poll, entries published before now minus
//! `poll.backfill` are recorded without being reported; undated entries are reported. A
//! `ca_rotation` stores every certificate and announced SHA-256 fingerprint as a
//! `candidate` anchor of its vendor, never approved; a `key_revocation` revokes the
//! fingerprints it names only where they match a stored anchor of that vendor. A source
//! that keeps failing yields one `source_error` finding, and one notice when it
//! recovers. Certificate links in a rotation post are fetched behind the address guard
//! and their certificates become candidates too. A source whose server sent
//! `Retry-After` is not asked again before that time. Feeds use conditional GET: a 304
//! means nothing changed. Each finding to report is enqueued for every configured chat
//! sink in the transaction that records it (`store/outbox.rs`); one held back by the
//! backfill rule or `chat.notify` is recorded and counted instead.

use time::OffsetDateTime;

use crate::advisory::{understand, Finding, FindingKind, Understood};
use crate::config::{Config, Vendor};
use crate::fetch::{self, Fetched, Fetcher, Trust, Validators};
use crate::notify::{delivery_for, sink_names};
use crate::sources::{self, Entry};
use crate::store::{self, Delivery, EntryRecord, EntryStatus, NotPostedReason, Store};
use crate::trust::approval::{self, Change};
use crate::trust::{cert, Anchor, AnchorState, Fingerprint};

/// A finding to report, and whether it is an update of one reported before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub finding: Finding,
    pub update: bool,
}

/// One source as configured.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub vendor: &'a Vendor,
    pub url: &'a str,
    pub page: Option<&'a crate::config::PageSource>,
    pub interval: std::time::Duration,
}

impl Source<'_> {
    /// The key of this source's state in the store.
    pub fn id(&self) -> String {
        format!("{}:{}", self.vendor.name, self.url)
    }
}

/// Every configured source, feeds then pages, vendor by vendor.
pub fn sources(config: &Config) -> Vec<Source<'_>> {
    let mut out = Vec::new();
    for vendor in &config.vendors {
        out.extend(vendor.feeds.iter().map(|f| Source {
            vendor,
            url: &f.url,
            page: None,
            interval: f.interval,
        }));
        out.extend(vendor.pages.iter().map(|p| Source {
            vendor,
            url: &p.url,
            page: Some(p),
            interval: p.interval,
        }));
    }
    out
}

/// Sources `poll_once` polls at the same time: enough to overlap fetching with parsing
/// on two cores, few enough that the documents held at once stay small (at most this
/// many times `http.max_download`).
const SOURCES_AT_ONCE: usize = 4;

/// Poll every source once; the findings in configuration order.
///
/// Sources are polled a few at a time, taken round-robin across hosts so one host's
/// pacing (`fetch::MIN_HOST_GAP`) does not hold up the others, and everything recorded
/// is flushed once, before the findings are returned.
pub async fn poll_once(
    config: &Config,
    store: &Store,
    fetcher: &Fetcher,
    now: OffsetDateTime,
) -> Result<Vec<Reported>, store::Error> {
    use futures_util::stream::{self, StreamExt};
    let all = sources(config);
    let mut results: Vec<(usize, Result<Polled, store::Error>)> =
        stream::iter(round_robin_by_host(all.iter().map(|s| s.url)))
            .map(|i| {
                let source = all[i];
                async move {
                    (
                        i,
                        poll_unflushed(config, store, fetcher, &source, now).await,
                    )
                }
            })
            .buffer_unordered(SOURCES_AT_ONCE)
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    // Flushed even when one source hit a store error: what the others recorded stays.
    store.flush()?;
    let mut out = Vec::new();
    for (i, r) in results {
        let (found, state) = r?;
        if let Some(state) = state {
            store.put_source_state(&all[i].id(), &state)?;
        }
        out.extend(found);
    }
    store.flush()?;
    Ok(out)
}

/// Source indexes in an order that visits each host's sources in turn: the first source
/// of every host, then the second of every host, and so on. Sources without a host
/// (`file://`) count as a host each.
fn round_robin_by_host<'a>(urls: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let mut hosts: Vec<Vec<usize>> = Vec::new();
    let mut by_name: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, url) in urls.enumerate() {
        let host = url::Url::parse(url).ok().and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}:{:?}", u.port_or_known_default()))
        });
        let mut new_slot = || {
            hosts.push(Vec::new());
            hosts.len() - 1
        };
        let slot = match host {
            Some(h) => *by_name.entry(h).or_insert_with(new_slot),
            None => new_slot(),
        };
        hosts[slot].push(i);
    }
    let longest = hosts.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|round| hosts.iter().filter_map(move |l| l.get(round).copied()))
        .collect()
}

/// Most certificate links fetched from one post.
const MAX_CERT_LINKS: usize = 5;

/// The source's entries, or `None` when the server said nothing changed (304).
async fn read_entries(
    fetcher: &Fetcher,
    source: &Source<'_>,
    validators: &mut Validators,
) -> Result<Option<Vec<Entry>>, fetch::Error> {
    let Some(page) = source.page else {
        return match fetcher
            .get(source.url, Trust::Configured, validators)
            .await?
        {
            Fetched::NotModified => Ok(None),
            Fetched::Body {
                bytes,
                validators: v,
            } => {
                *validators = v;
                let url = source.url.to_owned();
                off_thread(source.url, move || sources::parse_feed(&bytes, &url))
                    .await?
                    .map(Some)
                    .map_err(|e| fetch::Error::Read {
                        url: source.url.to_owned(),
                        reason: e.to_string(),
                    })
            }
        };
    };
    let mut entries = Vec::new();
    let mut url = source.url.to_owned();
    let host = |u: &str| {
        url::Url::parse(u)
            .ok()
            .map(|u| (u.scheme().to_owned(), u.host_str().map(str::to_owned)))
    };
    let first_host = host(&url);
    for _ in 0..page.max_pages {
        let Fetched::Body { bytes, .. } = fetcher
            .get(&url, Trust::Configured, &Validators::default())
            .await?
        else {
            break;
        };
        let (at, items, next) = (
            url.clone(),
            page.item_selector.clone(),
            page.next_selector.clone(),
        );
        let parsed = off_thread(&url, move || {
            let html = String::from_utf8_lossy(&bytes);
            sources::parse_page(&html, &at, &items, next.as_deref())
        })
        .await?
        .map_err(|e| fetch::Error::Read {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        entries.extend(parsed.entries);
        // Pagination is followed only while it stays on the configured page's host.
        match parsed.next {
            Some(next) if host(&next) == first_host && next != url => url = next,
            _ => break,
        }
    }
    Ok(Some(entries))
}

/// The source's entries and what each says, or `None` when nothing changed (304).
async fn read_understood(
    fetcher: &Fetcher,
    source: &Source<'_>,
    validators: &mut Validators,
) -> Result<Option<(Vec<Entry>, Vec<Understood>)>, fetch::Error> {
    let Some(entries) = read_entries(fetcher, source, validators).await? else {
        return Ok(None);
    };
    let vendor = source.vendor.name.clone();
    off_thread(source.url, move || {
        let understood = entries.iter().map(|e| understand(e, &vendor)).collect();
        (entries, understood)
    })
    .await
    .map(Some)
}

/// Run parsing (CPU work on outside input) on tokio's blocking pool, so the sources
/// polled at once parse in parallel and the async threads stay free for I/O. A parser
/// panic becomes this source's error instead of taking the process down.
async fn off_thread<T: Send + 'static>(
    url: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, fetch::Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| fetch::Error::Read {
            url: url.to_owned(),
            reason: format!("the parser failed on this document ({e}); please report it"),
        })
}

/// Fetch the certificate files a rotation post links to, behind the address guard.
async fn linked_certificates(fetcher: &Fetcher, und: &mut Understood) {
    if und
        .finding
        .as_ref()
        .is_none_or(|f| f.kind != FindingKind::CaRotation)
    {
        return;
    }
    for link in und.cert_links.iter().take(MAX_CERT_LINKS) {
        match fetcher
            .get(link, Trust::Guarded, &Validators::default())
            .await
        {
            Ok(Fetched::Body { bytes, .. }) => {
                match crate::trust::import::parse_certificates(&bytes) {
                    Ok(certs) => {
                        for c in certs {
                            if !und.certificates.contains(&c) {
                                if let Some(f) = und.finding.as_mut() {
                                    f.certificates.push(Fingerprint::of(&c));
                                }
                                und.certificates.push(c);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(url = %link, error = %e, "linked certificate unreadable")
                    }
                }
            }
            Ok(Fetched::NotModified) => {}
            Err(e) => tracing::warn!(url = %link, error = %e, "linked certificate not fetched"),
        }
    }
}

/// Poll one source: fetch, parse, understand, record (flushed); the findings to report.
pub async fn poll_source(
    config: &Config,
    store: &Store,
    fetcher: &Fetcher,
    source: &Source<'_>,
    now: OffsetDateTime,
) -> Result<Vec<Reported>, store::Error> {
    let (out, state) = poll_unflushed(config, store, fetcher, source, now).await?;
    // The findings are made durable before the source's state says it was polled: a
    // crash in between means polling it again, never a poll whose findings were lost.
    store.flush()?;
    if let Some(state) = state {
        store.put_source_state(&source.id(), &state)?;
        store.flush()?;
    }
    Ok(out)
}

/// What one poll found, and the source's new state, which the caller writes once the
/// findings are flushed (`None`: unchanged).
type Polled = (Vec<Reported>, Option<store::SourceState>);

/// `poll_source` without the flush and the state: the caller flushes, then writes it.
async fn poll_unflushed(
    config: &Config,
    store: &Store,
    fetcher: &Fetcher,
    source: &Source<'_>,
    now: OffsetDateTime,
) -> Result<Polled, store::Error> {
    let id = source.id();
    let sinks = sink_names(config);
    // Watching moves the store's remembered clock forward too, so a clock stepped back
    // later is caught by verify even if nothing was verified meanwhile.
    if let store::ClockCheck::Behind { latest } =
        store.observe_clock(now, crate::verify::CLOCK_TOLERANCE)?
    {
        tracing::warn!(source = %id, latest_seen = %latest, "the system clock is behind the latest time this store has seen: fix the clock; verify refuses to decide until then");
    }
    let mut state = store.source_state(&id)?;
    let mut out = Vec::new();
    if state.retry_until.is_some_and(|t| now < t) {
        tracing::debug!(source = %id, "skipped: the server asked us to retry later");
        return Ok((out, None));
    }
    let mut validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let entries = match read_understood(fetcher, source, &mut validators).await {
        Ok(e) => e,
        Err(err) => {
            // Honour Retry-After, at most a day ahead.
            state.retry_until = err.retry_after().map(|s| {
                now + time::Duration::seconds(i64::try_from(s.min(86_400)).unwrap_or(86_400))
            });
            let reason = err.to_string();
            tracing::warn!(source = %id, error = %reason, "poll failed");
            state.failures = state.failures.saturating_add(1);
            state.last_error = Some(reason.clone());
            state.last_poll = Some(now);
            if state.failures == 1 {
                let f = source_error(
                    source,
                    &format!("{} cannot be polled", source.url),
                    &reason,
                    now,
                );
                record_source_error(config, store, &sinks, &f, now)?;
                out.push(Reported {
                    finding: f,
                    update: false,
                });
            }
            return Ok((out, Some(state)));
        }
    };
    if state.failures > 0 {
        let f = source_error(
            source,
            &format!("{} is reachable again", source.url),
            "the source answered normally after failing",
            now,
        );
        record_source_error(config, store, &sinks, &f, now)?;
        out.push(Reported {
            finding: f,
            update: false,
        });
        state.failures = 0;
        state.last_error = None;
    }
    state.retry_until = None;
    let Some((entries, understood)) = entries else {
        tracing::debug!(source = %id, "not modified");
        state.last_poll = Some(now);
        return Ok((out, Some(state)));
    };
    state.etag = validators.etag;
    state.last_modified = validators.last_modified;
    let backfill_before = now - config.poll.backfill;
    let mut batch = Batch {
        items: Vec::new(),
        at: now,
    };
    for (entry, mut und) in entries.iter().zip(understood) {
        // Decided before recording, so the outbox items (or the reason there are none)
        // are written in the same transaction as the finding.
        let backfilled = !state.polled && entry.published.is_some_and(|p| p < backfill_before);
        let delivery = match &und.finding {
            _ if backfilled => Delivery::NotPosted(NotPostedReason::Backfill),
            Some(f) => delivery_for(config, f.kind, &sinks),
            None => Delivery::To(&[]),
        };
        let anchor_kind = und.finding.as_ref().is_some_and(|f| {
            matches!(f.kind, FindingKind::CaRotation | FindingKind::KeyRevocation)
        });
        if !anchor_kind {
            batch.items.push(Pending {
                entry,
                finding: und.finding,
                changes: Vec::new(),
                delivery,
                backfilled,
            });
            if batch.items.len() >= MAX_BATCH {
                batch.commit(store, &id, &mut out)?;
            }
            continue;
        }
        // Anchor changes are planned against the store as committed: what is batched
        // goes in first, and this entry is recorded alone (see `Store::record_entries`).
        // Another source of the vendor may change the same anchor meanwhile (`run`
        // polls sources concurrently); its compare-and-swap then fails and we plan again.
        batch.commit(store, &id, &mut out)?;
        if store.seen(&id, &entry.id)? != Some(entry.content_hash()) {
            // Fetching may take long: what is recorded so far is made durable first, so
            // a crash meanwhile does not record (and log) those entries twice.
            store.flush()?;
            linked_certificates(fetcher, &mut und).await;
        }
        let mut attempt = 0;
        loop {
            batch.items.push(Pending {
                entry,
                finding: und.finding.clone(),
                changes: plan_changes(store, &und, &source.vendor.name, now)?,
                delivery,
                backfilled,
            });
            match batch.commit(store, &id, &mut out) {
                Err(store::Error::Conflict(_)) if attempt < 3 => {
                    attempt += 1;
                    batch.items.clear();
                }
                r => break r?,
            }
        }
    }
    state.polled = true;
    state.last_poll = Some(now);
    batch.commit(store, &id, &mut out)?;
    Ok((out, Some(state)))
}

/// Most entries recorded in one transaction (sled holds a transaction's writes in memory).
const MAX_BATCH: usize = 256;

/// One entry understood and waiting to be recorded.
struct Pending<'a> {
    entry: &'a Entry,
    finding: Option<Finding>,
    changes: Vec<Change>,
    delivery: Delivery<'a>,
    backfilled: bool,
}

/// Entries of one source waiting to be recorded together.
struct Batch<'a> {
    items: Vec<Pending<'a>>,
    /// When they are recorded (the outbox items' queued time).
    at: OffsetDateTime,
}

impl Batch<'_> {
    /// Record what is waiting in one transaction; the findings to report go to `out`,
    /// in entry order.
    fn commit(
        &mut self,
        store: &Store,
        source: &str,
        out: &mut Vec<Reported>,
    ) -> Result<(), store::Error> {
        if self.items.is_empty() {
            return Ok(());
        }
        let at = self.at;
        let records: Vec<EntryRecord<'_>> = self
            .items
            .iter()
            .map(|p| EntryRecord {
                source,
                entry_id: &p.entry.id,
                content_hash: p.entry.content_hash(),
                finding: p.finding.as_ref(),
                changes: &p.changes,
                delivery: p.delivery,
                at,
            })
            .collect();
        let statuses = store.record_entries(&records)?;
        drop(records);
        for (p, status) in self.items.drain(..).zip(statuses) {
            let Some(finding) = p.finding else { continue };
            if status == EntryStatus::Unchanged {
                continue;
            }
            log_delivery(source, &finding, p.delivery);
            if p.backfilled {
                continue;
            }
            out.push(Reported {
                finding,
                update: status == EntryStatus::Updated,
            });
        }
        Ok(())
    }
}

/// Record a `source_error` finding with its outbox items, in one transaction.
fn record_source_error(
    config: &Config,
    store: &Store,
    sinks: &[String],
    f: &Finding,
    now: OffsetDateTime,
) -> Result<(), store::Error> {
    let delivery = delivery_for(config, f.kind, sinks);
    if store.record_finding(f, delivery, now)? {
        log_delivery(&f.url, f, delivery);
    }
    Ok(())
}

/// One log line per recorded finding: where it went, or why it was not posted.
fn log_delivery(source: &str, f: &Finding, delivery: Delivery<'_>) {
    let kind = f.kind.as_str();
    match delivery {
        Delivery::To(sinks) => {
            tracing::info!(source = %source, kind, title = %f.title, sinks = sinks.len(), "new finding");
        }
        Delivery::NotPosted(reason) => {
            tracing::info!(source = %source, kind, title = %f.title, reason = reason.as_str(), "new finding recorded, not posted");
        }
    }
}

fn source_error(source: &Source<'_>, title: &str, reason: &str, now: OffsetDateTime) -> Finding {
    Finding {
        kind: FindingKind::SourceError,
        vendor: source.vendor.name.clone(),
        title: title.to_owned(),
        url: source.url.to_owned(),
        published: Some(now),
        fingerprints: Vec::new(),
        sha1_fingerprints: Vec::new(),
        certificates: Vec::new(),
        cves: Vec::new(),
        config_keys: Vec::new(),
        summary: reason.to_owned(),
        names: Vec::new(),
    }
}

/// The anchor changes a finding causes, planned by `trust::approval` against the store.
fn plan_changes(
    store: &Store,
    und: &Understood,
    vendor: &str,
    now: OffsetDateTime,
) -> Result<Vec<Change>, store::Error> {
    let Some(f) = &und.finding else {
        return Ok(Vec::new());
    };
    let actor = format!("advisory:{}", f.url);
    let mut changes: Vec<Change> = Vec::new();
    let mut done: Vec<Fingerprint> = Vec::new();
    match f.kind {
        FindingKind::CaRotation => {
            let mut proposals: Vec<Anchor> = und
                .certificates
                .iter()
                .map(|der| {
                    let info = cert::inspect(der).ok();
                    Anchor {
                        sha256: Fingerprint::of(der),
                        vendor: vendor.to_owned(),
                        state: AnchorState::Candidate,
                        source: f.url.clone(),
                        first_seen: now,
                        updated: now,
                        cert_der: Some(der.to_vec()),
                        subject: info.as_ref().map(|i| i.subject.clone()),
                        not_after: info.map(|i| i.not_after),
                        revoked_reason: None,
                    }
                })
                .collect();
            for fp in &f.fingerprints {
                proposals.push(Anchor {
                    sha256: *fp,
                    vendor: vendor.to_owned(),
                    state: AnchorState::Candidate,
                    source: f.url.clone(),
                    first_seen: now,
                    updated: now,
                    cert_der: None,
                    subject: None,
                    not_after: None,
                    revoked_reason: None,
                });
            }
            for p in proposals {
                if done.contains(&p.sha256) {
                    continue;
                }
                done.push(p.sha256);
                let existing = store.anchor(&p.sha256)?;
                // Another vendor's key, or a revoked one: leave it alone (reported only).
                if let Ok(Some(change)) = approval::plan_add(existing.as_ref(), p, &actor, now) {
                    changes.push(change);
                }
            }
        }
        FindingKind::KeyRevocation => {
            for fp in f.fingerprints.iter().chain(&f.certificates) {
                if done.contains(fp) {
                    continue;
                }
                done.push(*fp);
                let existing = store.anchor(fp)?;
                if existing.as_ref().is_some_and(|a| a.vendor == vendor) {
                    let reason = format!("announced revoked in {}", f.url);
                    if let Ok(change) =
                        approval::plan_revoke(existing.as_ref(), *fp, &actor, Some(&reason), now)
                    {
                        changes.push(change);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::round_robin_by_host;

    #[test]
    fn sources_are_taken_round_robin_across_hosts() {
        let urls = [
            "https://a.example/1",
            "https://a.example/2",
            "https://a.example/3",
            "https://b.example/1",
            "file:///mirror/x.xml",
            "file:///mirror/y.xml",
            "https://a.example:8443/1",
            "https://b.example/2",
        ];
        // a: 0,1,2; b: 3,7; file: 4 and 5 alone; a on another port: 6.
        assert_eq!(
            round_robin_by_host(urls.into_iter()),
            [0, 3, 4, 5, 6, 1, 7, 2]
        );
    }
}
