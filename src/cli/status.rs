//! `trustwatch status [--format text|json]`: sources, chat outboxes, findings not
//! posted and the store's size, from `notify::status` (Discord's `/status` shows the
//! same).

use super::{exit, print, Context, Failure, Format, FormatArg, Outcome};
use crate::notify::status;

pub(super) fn run(ctx: &Context, args: &FormatArg) -> Outcome {
    let store = ctx.open_store()?;
    let st = status(&store, &ctx.config).map_err(Failure::other)?;
    let out = match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&st).map_err(Failure::other)?;
            s.push('\n');
            s
        }
        Format::Text => st.to_text(),
    };
    print(&out)?;
    Ok(exit::OK)
}
