//! `/status`: sources, last poll, failures, store size.

use super::message::{code_block, colour, limits};
use super::{render, Embed, Field, Message};
use crate::config::Config;
use crate::poll::sources;
use crate::store::Store;

/// The status answer, from the store.
pub fn reply(store: &Store, config: &Config) -> Message {
    let mut lines = Vec::new();
    let mut failing = 0usize;
    for s in sources(config) {
        let id = s.id();
        let state = match store.source_state(&id) {
            Ok(st) => st,
            Err(e) => return render::refusal(&format!("The store failed: {e}")),
        };
        if state.failures > 0 {
            failing += 1;
        }
        let last = state
            .last_poll
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "never".into());
        let health = match (&state.last_error, state.failures) {
            (Some(e), n) if n > 0 => format!("FAILING x{n}: {e}"),
            _ => "ok".to_owned(),
        };
        lines.push(format!("{id}\n  last poll {last} · {health}"));
    }
    let size = store.size_on_disk().unwrap_or(0);
    let mut e = Embed {
        title: "trustwatch status".to_owned(),
        colour: if failing > 0 {
            colour::UNKNOWN_SIGNER
        } else {
            colour::TRUSTED
        },
        description: if lines.is_empty() {
            "no sources configured".to_owned()
        } else {
            code_block(&lines.join("\n"), limits::DESCRIPTION)
        },
        ..Embed::default()
    };
    e.fields.push(Field::inline(
        "sources",
        format!("{} ({failing} failing)", lines.len()),
    ));
    e.fields.push(Field::inline(
        "store size",
        format!("{:.1} MiB", size as f64 / f64::from(1u32 << 20)),
    ));
    Message {
        embeds: vec![e],
        ..Message::default()
    }
    .fit()
}
