//! `/status`: sources, last poll, failures, every chat sink's outbox (queued, why, next
//! attempt), findings not posted (backfill, filtered) and the store's size, from the
//! same [`notify::status`](crate::notify::status) as `trustwatch status`.

use super::message::{code_block, colour, limits};
use super::{render, Embed, Field, Message};
use crate::config::Config;
use crate::notify::{status, Status};
use crate::store::Store;

/// The status answer, from the store.
pub fn reply(store: &Store, config: &Config) -> Message {
    match status(store, config) {
        Ok(st) => render_status(&st),
        Err(e) => render::refusal(&format!("The store failed: {e}")),
    }
}

/// Green when every source polls and nothing waits; amber otherwise.
pub fn render_status(st: &Status) -> Message {
    let failing = st.sources.iter().filter(|s| s.failures > 0).count();
    let queued: u64 = st.sinks.iter().map(|s| s.outbox.pending).sum();
    let down = st
        .sinks
        .iter()
        .filter(|s| s.outbox.down_since.is_some())
        .count();
    let healthy = failing == 0 && down == 0;
    let mut e = Embed {
        title: "trustwatch status".to_owned(),
        colour: if healthy {
            colour::TRUSTED
        } else {
            colour::UNKNOWN_SIGNER
        },
        description: code_block(&st.to_text(), limits::DESCRIPTION),
        ..Embed::default()
    };
    e.fields.push(Field::inline(
        "sources",
        format!("{} ({failing} failing)", st.sources.len()),
    ));
    e.fields.push(Field::inline(
        "queued notices",
        format!("{queued} ({down} sink(s) down)"),
    ));
    e.fields.push(Field::inline(
        "not posted",
        format!(
            "{} backfill · {} filtered",
            st.not_posted.backfill.count, st.not_posted.filtered.count
        ),
    ));
    Message {
        embeds: vec![e],
        ..Message::default()
    }
    .fit()
}
