//! What `trustwatch status` and Discord's `/status` show: every source (last poll,
//! failure streak, last error), every sink's outbox (pending, oldest, failed, last
//! error, next attempt, down since, delivered), why findings were not posted
//! (backfill, filtered), and the store's size. Built from the store and the config
//! only, so any front end can render it.

use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;

use crate::config::Config;
use crate::poll::sources;
use crate::store::{self, ChatHealth, ChatState, NotPosted, NotPostedReason, SinkSummary, Store};

/// The version line of this build (as `trustwatch --version` prints it).
pub(super) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TRUSTWATCH_COMMIT"),
    ")"
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub version: &'static str,
    pub sources: Vec<SourceStatus>,
    /// Configured sinks first (in config order), then any other sink with items left.
    pub sinks: Vec<SinkStatus>,
    pub not_posted: NotPostedStatus,
    pub store_bytes: u64,
    /// What chat (Discord) last said of itself, when `[chat.discord]` is configured.
    pub chat: Option<ChatState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    pub id: String,
    pub vendor: String,
    pub url: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_poll: Option<OffsetDateTime>,
    pub failures: u32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkStatus {
    /// Whether the config names this sink (false: items left by a removed sink).
    pub configured: bool,
    #[serde(flatten)]
    pub outbox: SinkSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotPostedStatus {
    pub backfill: NotPosted,
    pub filtered: NotPosted,
}

/// Gather the status from `store` for the sources and sinks `config` names.
pub fn status(store: &Store, config: &Config) -> Result<Status, store::Error> {
    let mut src = Vec::new();
    for s in sources(config) {
        let id = s.id();
        let state = store.source_state(&id)?;
        src.push(SourceStatus {
            vendor: s.vendor.name.clone(),
            url: s.url.to_owned(),
            last_poll: state.last_poll,
            failures: state.failures,
            last_error: state.last_error,
            id,
        });
    }
    let mut summaries = store.outbox_summary()?;
    let mut sinks = Vec::new();
    for name in super::sink_names(config) {
        let outbox = match summaries.iter().position(|s| s.sink == name) {
            Some(i) => summaries.remove(i),
            None => SinkSummary {
                sink: name,
                ..SinkSummary::default()
            },
        };
        sinks.push(SinkStatus {
            configured: true,
            outbox,
        });
    }
    sinks.extend(
        summaries
            .into_iter()
            .filter(|s| s.pending > 0)
            .map(|outbox| SinkStatus {
                configured: false,
                outbox,
            }),
    );
    Ok(Status {
        version: VERSION,
        sources: src,
        sinks,
        not_posted: NotPostedStatus {
            backfill: store.not_posted(NotPostedReason::Backfill)?,
            filtered: store.not_posted(NotPostedReason::Filtered)?,
        },
        store_bytes: store.size_on_disk()?,
        chat: match config.chat.discord {
            Some(_) => store.chat_state()?,
            None => None,
        },
    })
}

fn when(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_else(|| "never".to_owned())
}

impl Status {
    /// The status as text for a person (`trustwatch status`, Discord's `/status`).
    pub fn to_text(&self) -> String {
        let st = self;
        let mut out = String::new();
        let _ = writeln!(out, "trustwatch {}", st.version);
        let _ = writeln!(out, "\nsources ({}):", st.sources.len());
        for s in &st.sources {
            let _ = write!(out, "  {}  last poll {}", s.id, when(s.last_poll));
            if s.failures > 0 {
                let _ = write!(out, ", failing ({} in a row)", s.failures);
            }
            out.push('\n');
            if let Some(e) = &s.last_error {
                let _ = writeln!(out, "    last error: {e}");
            }
        }
        let _ = writeln!(out, "\nchat sinks ({}):", st.sinks.len());
        if st.sinks.is_empty() {
            let _ = writeln!(out, "  none configured: findings go to stdout and the log");
        }
        for s in &st.sinks {
            let o = &s.outbox;
            let removed = if s.configured {
                ""
            } else {
                " (not configured)"
            };
            let _ = writeln!(
                out,
                "  {}{removed}: {} pending ({} refused), {} delivered, last delivered {}",
                o.sink,
                o.pending,
                o.failed,
                o.delivered,
                when(o.last_delivered)
            );
            if o.pending > 0 {
                let _ = writeln!(
                    out,
                    "    oldest queued {}, next attempt {}",
                    when(o.oldest),
                    when(o.next_attempt)
                );
            }
            if let Some(d) = o.down_since {
                let _ = writeln!(out, "    queued: chat down since {}", when(Some(d)));
            }
            if let Some(e) = &o.last_error {
                let _ = writeln!(out, "    last error: {e}");
            }
        }
        let n = &st.not_posted;
        let _ = writeln!(
            out,
            "\nnot posted: {} backfill, {} filtered (chat.notify)",
            n.backfill.count, n.filtered.count
        );
        if let Some(c) = &st.chat {
            let health = match c.health {
                ChatHealth::Running => "running",
                ChatHealth::Restarting => "restarting",
                ChatHealth::Stopped => "STOPPED",
            };
            let _ = write!(
                out,
                "\nchat (Discord, {}): {health} since {}",
                c.transport,
                when(Some(c.since))
            );
            if let Some(r) = &c.reason {
                let _ = write!(out, ": {r}");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "store: {} bytes on disk", st.store_bytes);
        out
    }
}
