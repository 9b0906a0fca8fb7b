//! `trustwatch run`: poll every source on its schedule until SIGINT/SIGTERM, delivering
//! findings to the configured chat sinks, or (with none) printing them (text or one
//! JSON object per line) as they come; exits 0 after finishing in-flight work and
//! flushing the store.

use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;

use super::poll::render;
use super::{exit, Context, Failure, Format, Outcome};
use crate::chat::commands::Bot;
use crate::fetch::Fetcher;
use crate::service;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub(super) fn run(ctx: &Context, args: &RunArgs) -> Outcome {
    let store = ctx.open_store()?;
    // Other commands reach this instance over its control socket while it holds the store.
    let control = super::control::listen(ctx, &store)?;
    let fetcher = Arc::new(Fetcher::new(&ctx.config.http).map_err(Failure::other)?);
    let config = Arc::new(ctx.config.clone());
    let format = args.format;
    let discord = super::notify::discord(ctx)?;
    let sinks = super::notify::sinks(ctx, discord.as_ref(), Some(store.clone()))?;
    let renderer = super::notify::render(ctx);
    let stdout = sinks.is_empty();
    let print: service::Print = Arc::new(move |r| {
        if stdout {
            let _ = super::print(&render(r, format));
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(anyhow!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested: finishing in-flight polls");
            let _ = tx.send(true);
        });
        // Chat commands come in beside the watchers; a chat failure never stops them.
        let stopping = rx.clone();
        let chat = discord.map(|d| {
            let bot = Arc::new(Bot::new(
                store.clone(),
                config.clone(),
                d.config.clone(),
                fetcher.clone(),
                d.http.clone(),
            ));
            let stop = rx.clone();
            let shared = store.clone();
            tokio::spawn(async move { d.serve(bot, shared, stop).await })
        });
        let served = control
            .serve_while(
                rx.clone(),
                service::run(config, store, fetcher, print, sinks, renderer, rx),
            )
            .await;
        if let Some(chat) = chat {
            // The watchers end only on shutdown, or on a store error: then chat goes too.
            if !*stopping.borrow() {
                chat.abort();
            }
            // A chat that stopped for good was logged by `serve` when it stopped.
            if let Ok(Err(e)) = chat.await {
                tracing::debug!(error = %e, "chat had stopped");
            }
        }
        served?.map_err(Failure::other)
    })?;
    Ok(exit::OK)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
