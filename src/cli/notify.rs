//! `trustwatch notify --test`: a test message to every configured chat sink; prints
//! `OK` or the reason per sink; exit 1 when any failed, 2 when none is configured. Also
//! the sinks every command builds from the config, and the bounded delivery of
//! `poll --once`.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;

use super::{exit, print, Context, Failure, Outcome};
use crate::chat::serve::Discord;
use crate::notify::{self, Budget, Render, Sink};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Send a one-line test message to every configured sink.
    #[arg(long)]
    pub test: bool,
}

/// Discord, when `[chat.discord]` is configured: the token (from the environment) and
/// the REST client. A missing token is an input error naming the variable.
pub(crate) fn discord(ctx: &Context) -> Result<Option<Discord>, Failure> {
    ctx.config
        .chat
        .discord
        .as_ref()
        .map(|d| Discord::from_env(d).map_err(Failure::usage))
        .transpose()
}

/// Every sink the config names, ready to deliver (a webhook whose URL variable is
/// missing is an input error naming the variable). `store` lets the Discord sink show
/// the evidence for a new CA with rotation notices.
pub(crate) fn sinks(
    ctx: &Context,
    discord: Option<&Discord>,
    store: Option<Arc<Store>>,
) -> Result<Vec<Arc<dyn Sink>>, Failure> {
    let mut out: Vec<Arc<dyn Sink>> = Vec::new();
    if let Some(d) = discord {
        out.push(Arc::new(d.sink(store)));
    }
    out.extend(notify::sinks_from_config(&ctx.config).map_err(Failure::usage)?);
    Ok(out)
}

/// How notices are rendered.
pub(crate) fn render(_ctx: &Context) -> Render {
    notify::default_render()
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(anyhow!("cannot start the async runtime: {e}")))
}

pub(super) fn run(ctx: &Context, args: &NotifyArgs) -> Outcome {
    if !args.test {
        return Err(Failure::usage(anyhow!(
            "notify needs --test (findings are delivered by `run` and `poll --once`)"
        )));
    }
    let discord = discord(ctx)?;
    let sinks = sinks(ctx, discord.as_ref(), None)?;
    if sinks.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no chat sink is configured: add a [[chat.webhook]] (name, url_env) or \
             [chat.discord] section to the config (config/trustwatch.toml documents both)"
        )));
    }
    let text = format!(
        "trustwatch {}: test message from `trustwatch notify --test`",
        super::VERSION
    );
    let results = runtime()?.block_on(notify::announce_all(&sinks, &text));
    let mut out = String::new();
    let mut failed = false;
    for (name, result) in results {
        match result {
            Ok(()) => {
                let _ = writeln!(out, "{name}: OK");
            }
            Err(e) => {
                failed = true;
                tracing::warn!(sink = %name, error = %e, "test message failed");
                let _ = writeln!(out, "{name}: FAILED: {e}");
            }
        }
    }
    print(&out)?;
    Ok(if failed { exit::FAILURE } else { exit::OK })
}

/// Deliver every sink's outbox with a bounded effort (`poll --once`); what is left is
/// said on stderr, one line per sink. Configured sinks this build cannot deliver to
/// are reported too.
pub(super) async fn deliver(ctx: &Context, store: &Store, sinks: &[Arc<dyn Sink>]) {
    let render = render(ctx);
    for sink in sinks {
        match notify::drain_bounded(store, sink.as_ref(), &render, Budget::default()).await {
            Ok(r) if r.remaining > 0 => {
                let reason = r
                    .last_error
                    .as_deref()
                    .unwrap_or("waiting for its next attempt");
                super::eprint(&format!(
                    "{} finding(s) queued for {}: {reason}\n",
                    r.remaining, r.sink
                ));
            }
            Ok(_) => {}
            Err(e) => super::eprint(&format!("cannot deliver to {}: {e}\n", sink.name())),
        }
    }
    let built: Vec<String> = sinks.iter().map(|s| s.name()).collect();
    for name in notify::sink_names(&ctx.config) {
        if built.contains(&name) {
            continue;
        }
        if let Ok(s) = store.sink_summary(&name) {
            if s.pending > 0 {
                super::eprint(&format!(
                    "{} finding(s) queued for {name}: delivered by `trustwatch run`\n",
                    s.pending
                ));
            }
        }
    }
}
