//! `trustwatch status [--format text|json]`: sources, chat outboxes, findings not
//! posted and the store's size, from `notify::status` (Discord's `/status` shows the
//! same).

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{exit, print, Context, Failure, Format, FormatArg, Outcome};
use crate::notify::{status, Status};

fn when(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "never".to_owned())
}

pub(super) fn run(ctx: &Context, args: &FormatArg) -> Outcome {
    let store = ctx.open_store()?;
    let st = status(&store, &ctx.config).map_err(Failure::other)?;
    let out = match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&st).map_err(Failure::other)?;
            s.push('\n');
            s
        }
        Format::Text => render_text(&st),
    };
    print(&out)?;
    Ok(exit::OK)
}

fn render_text(st: &Status) -> String {
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
    let _ = writeln!(out, "store: {} bytes on disk", st.store_bytes);
    out
}
