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

/// Poll every source once.
pub async fn poll_once(
    config: &Config,
    store: &Store,
    fetcher: &Fetcher,
    now: OffsetDateTime,
) -> Result<Vec<Reported>, store::Error> {
    let mut out = Vec::new();
    for source in sources(config) {
        out.extend(poll_source(config, store, fetcher, &source, now).await?);
    }
    Ok(out)
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
                sources::parse_feed(&bytes, source.url)
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
        let html = String::from_utf8_lossy(&bytes);
        let parsed = sources::parse_page(
            &html,
            &url,
            &page.item_selector,
            page.next_selector.as_deref(),
        )
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

/// Poll one source: fetch, parse, understand, record; the findings to report.
pub async fn poll_source(
    config: &Config,
    store: &Store,
    fetcher: &Fetcher,
    source: &Source<'_>,
    now: OffsetDateTime,
) -> Result<Vec<Reported>, store::Error> {
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
        return Ok(out);
    }
    let mut validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let entries = match read_entries(fetcher, source, &mut validators).await {
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
            store.put_source_state(&id, &state)?;
            return Ok(out);
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
    let Some(entries) = entries else {
        tracing::debug!(source = %id, "not modified");
        state.last_poll = Some(now);
        store.put_source_state(&id, &state)?;
        return Ok(out);
    };
    state.etag = validators.etag;
    state.last_modified = validators.last_modified;
    let backfill_before = now - config.poll.backfill;
    for entry in &entries {
        let mut und = understand(entry, &source.vendor.name);
        if store.seen(&id, &entry.id)? != Some(entry.content_hash()) {
            linked_certificates(fetcher, &mut und).await;
        }
        let changes = plan_changes(store, &und, &source.vendor.name, now)?;
        // Decided before recording, so the outbox items (or the reason there are none)
        // are written in the same transaction as the finding.
        let backfilled = !state.polled && entry.published.is_some_and(|p| p < backfill_before);
        let delivery = match &und.finding {
            _ if backfilled => Delivery::NotPosted(NotPostedReason::Backfill),
            Some(f) => delivery_for(config, f.kind, &sinks),
            None => Delivery::To(&[]),
        };
        let status = store.record_entry(&EntryRecord {
            source: &id,
            entry_id: &entry.id,
            content_hash: entry.content_hash(),
            finding: und.finding.as_ref(),
            changes: &changes,
            delivery,
            at: now,
        })?;
        let Some(finding) = und.finding else { continue };
        if status == EntryStatus::Unchanged {
            continue;
        }
        log_delivery(&id, &finding, delivery);
        if backfilled {
            continue;
        }
        out.push(Reported {
            finding,
            update: status == EntryStatus::Updated,
        });
    }
    state.polled = true;
    state.last_poll = Some(now);
    store.put_source_state(&id, &state)?;
    Ok(out)
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
