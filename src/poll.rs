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
//! recovers. Certificate links are reported in the finding (fetching them, with the
//! address guard, comes with the network fetcher).

use time::OffsetDateTime;

use crate::advisory::{understand, Finding, FindingKind, Understood};
use crate::config::{Config, Vendor};
use crate::fetch;
use crate::sources::{self, Entry};
use crate::store::{self, EntryRecord, EntryStatus, Store};
use crate::trust::approval::{self, Change};
use crate::trust::{cert, Anchor, AnchorState, Fingerprint};

/// A finding to report, and whether it is an update of one reported before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub finding: Finding,
    pub update: bool,
}

/// One source as configured.
struct Source<'a> {
    vendor: &'a Vendor,
    url: &'a str,
    page: Option<&'a crate::config::PageSource>,
}

impl Source<'_> {
    fn id(&self) -> String {
        format!("{}:{}", self.vendor.name, self.url)
    }
}

/// Poll every source once.
pub fn poll_once(
    config: &Config,
    store: &Store,
    now: OffsetDateTime,
) -> Result<Vec<Reported>, store::Error> {
    let mut out = Vec::new();
    for vendor in &config.vendors {
        let feeds = vendor.feeds.iter().map(|f| Source {
            vendor,
            url: &f.url,
            page: None,
        });
        let pages = vendor.pages.iter().map(|p| Source {
            vendor,
            url: &p.url,
            page: Some(p),
        });
        for source in feeds.chain(pages) {
            out.extend(poll_source(config, store, &source, now)?);
        }
    }
    Ok(out)
}

fn read_entries(config: &Config, source: &Source<'_>) -> Result<Vec<Entry>, String> {
    let Some(page) = source.page else {
        let bytes = fetch::fetch_source(source.url, &config.http).map_err(|e| e.to_string())?;
        return sources::parse_feed(&bytes, source.url).map_err(|e| format!("{}: {e}", source.url));
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
        let bytes = fetch::fetch_source(&url, &config.http).map_err(|e| e.to_string())?;
        let html = String::from_utf8_lossy(&bytes);
        let parsed = sources::parse_page(
            &html,
            &url,
            &page.item_selector,
            page.next_selector.as_deref(),
        )
        .map_err(|e| format!("{url}: {e}"))?;
        entries.extend(parsed.entries);
        // Pagination is followed only while it stays on the configured page's host.
        match parsed.next {
            Some(next) if host(&next) == first_host && next != url => url = next,
            _ => break,
        }
    }
    Ok(entries)
}

fn poll_source(
    config: &Config,
    store: &Store,
    source: &Source<'_>,
    now: OffsetDateTime,
) -> Result<Vec<Reported>, store::Error> {
    let id = source.id();
    let mut state = store.source_state(&id)?;
    let mut out = Vec::new();
    let entries = match read_entries(config, source) {
        Ok(e) => e,
        Err(reason) => {
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
                store.put_finding(&f)?;
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
        store.put_finding(&f)?;
        out.push(Reported {
            finding: f,
            update: false,
        });
        state.failures = 0;
        state.last_error = None;
    }
    let backfill_before = now - config.poll.backfill;
    for entry in &entries {
        let und = understand(entry, &source.vendor.name);
        let changes = plan_changes(store, &und, &source.vendor.name, now)?;
        let status = store.record_entry(&EntryRecord {
            source: &id,
            entry_id: &entry.id,
            content_hash: entry.content_hash(),
            finding: und.finding.as_ref(),
            changes: &changes,
        })?;
        let Some(finding) = und.finding else { continue };
        if status == EntryStatus::Unchanged {
            continue;
        }
        let backfilled = !state.polled && entry.published.is_some_and(|p| p < backfill_before);
        if backfilled {
            tracing::debug!(source = %id, entry = %entry.id, "recorded without reporting (backfill)");
            continue;
        }
        tracing::info!(source = %id, kind = ?finding.kind, title = %finding.title, "new finding");
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
