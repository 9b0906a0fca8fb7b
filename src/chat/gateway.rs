//! The gateway way in: serenity's client, asking only for the `GUILDS` intent, hands
//! each interaction to the [`Handler`] seam and carries out its [`First`] answer; READY
//! registers the slash commands (retried with backoff after transient failures).
//!
//! Invariants: the WebSocket URL is asked of `api_base` (never serenity's silent fallback
//! to the real gateway); an interaction handler never blocks the gateway (serenity runs
//! each event in its own task, and deferred jobs run in a [`JoinSet`] that shutdown drains,
//! bounded); the token is never logged.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    Context, CreateInteractionResponse, EventHandler, GatewayIntents, GuildId, Interaction,
    InteractionId, Ready,
};
use serenity::builder::Builder as _;
use serenity::client::ClientBuilder;
use serenity::gateway::{GatewayError, ShardManager};
use serenity::http::Http;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use super::discord::{http_builder, is_unauthorized, register_commands, without_url, Error};
use super::handler::{First, Handler};
use crate::config::DiscordConfig;
use crate::notify::DeliveryError;

/// How long shutdown waits for deferred jobs still running (each edits one response).
const JOB_DRAIN: Duration = Duration::from_secs(10);

/// First wait before a command registration that failed for a transient reason is tried
/// again; it doubles up to [`REGISTER_RETRY_MAX`].
const REGISTER_RETRY: Duration = Duration::from_secs(1);
const REGISTER_RETRY_MAX: Duration = Duration::from_secs(300);

/// How long shutdown waits for a shard that is still connecting (see [`stop_shards`]).
const SHARD_STOP_WAIT: Duration = Duration::from_secs(2);

/// Run the gateway client until `shutdown` turns true (or its sender is dropped).
///
/// REST calls, the gateway-URL request included, go to `config.api_base`. `http` answers
/// interactions and registers the commands (on the first READY); it should be the client
/// the handler's jobs use, so the application id learnt from READY reaches them too.
/// Reconnects after a dropped connection are serenity's. The error is returned, not
/// logged (the caller logs it once).
///
/// # Errors
/// [`Error::TokenRefused`] when Discord refuses the token (REST 401 or gateway close 4004),
/// [`Error::GatewayUrl`] when `api_base` cannot be asked for the gateway address,
/// [`Error::Intents`] or [`Error::Gateway`] when the connection ends for good.
pub async fn run_gateway(
    token: String,
    config: DiscordConfig,
    handler: Arc<dyn Handler>,
    http: Arc<Http>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    if *shutdown.borrow_and_update() {
        return Ok(());
    }
    // The error is returned, not logged: the supervisor (`chat::serve`) says it once,
    // with what happens next (restart, or chat stopped for good).
    connect_and_run(&token, &config, handler, http, &mut shutdown).await
}

async fn connect_and_run(
    token: &str,
    config: &DiscordConfig,
    handler: Arc<dyn Handler>,
    http: Arc<Http>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Error> {
    // Ask for the WebSocket URL ourselves (an authenticated call, so a bad token is caught
    // here with a clear message): serenity's builder asks `GET /gateway` too, but on any
    // failure it falls back to wss://gateway.discord.gg, which with a fake `api_base` would
    // reach the real Discord (serenity `src/client/mod.rs`, `IntoFuture for ClientBuilder`).
    let gateway = http.get_bot_gateway().await.map_err(|source| {
        if is_unauthorized(&source) {
            Error::TokenRefused {
                token_env: config.token_env.clone(),
            }
        } else {
            Error::GatewayUrl {
                api_base: config.api_base.clone(),
                source: Box::new(source),
            }
        }
    })?;
    let limit = &gateway.session_start_limit;
    if limit.remaining == 0 {
        warn!(
            reset_after_ms = limit.reset_after,
            "Discord's session start limit is used up; the gateway will refuse to identify until it resets"
        );
    }
    debug!(
        shards = gateway.shards,
        sessions_remaining = limit.remaining,
        "gateway address obtained"
    );

    let events = Arc::new(Events {
        handler,
        http,
        guild: config.guild_id.and_then(NonZeroU64::new).map(GuildId::from),
        registered: AtomicBool::new(false),
        stopping: AtomicBool::new(false),
        jobs: Mutex::new(JoinSet::new()),
    });
    // The client gets its own `Http` (the builder takes one by value) with the same
    // settings; it serves serenity's internal calls only.
    let client_http = http_builder(config, token)?.build();
    let mut client = ClientBuilder::new_with_http(client_http, GatewayIntents::GUILDS)
        .event_handler_arc(Arc::clone(&events))
        .await
        .map_err(|source| Error::Gateway {
            source: Box::new(source),
        })?;
    *client.ws_url.lock().await = gateway.url;
    let shard_manager = Arc::clone(&client.shard_manager);

    let outcome = tokio::select! {
        result = client.start() => Some(result),
        () = wait_for_shutdown(shutdown) => None,
    };
    // From here on, events from a shard that is still around are ignored.
    events.stopping.store(true, Ordering::Release);
    match outcome {
        None => {
            info!("shutting down the Discord gateway");
            stop_shards(&shard_manager).await;
            drop(client);
            events.drain_jobs().await;
            Ok(())
        }
        Some(Ok(())) => {
            events.drain_jobs().await;
            Ok(())
        }
        Some(Err(source)) => {
            // The shard runner has already ended (serenity returns only fatal errors here:
            // token, intents). `shutdown_all` would wait 5 s for that dead runner to confirm,
            // so it is not called; serenity's idle queuer task stays behind until exit.
            Err(match source {
                serenity::Error::Gateway(GatewayError::InvalidAuthentication) => {
                    Error::TokenRefused {
                        token_env: config.token_env.clone(),
                    }
                }
                serenity::Error::Gateway(
                    GatewayError::InvalidGatewayIntents | GatewayError::DisallowedGatewayIntents,
                ) => Error::Intents,
                source => Error::Gateway {
                    source: Box::new(source),
                },
            })
        }
    }
}

/// Close every shard with code 1000 and stop serenity's shard queuer.
///
/// serenity 0.12.5's `ShardManager::shutdown_all` returns early, without telling the
/// queuer to stop, when no shard runner exists yet (the shard is still connecting, or
/// waiting out the 5 s between boots after a failed attempt). So when none was running,
/// wait a little for one to appear and shut that down too; after [`SHARD_STOP_WAIT`] give
/// up (a shard that connects later has its events ignored, see `Events::stopping`).
async fn stop_shards(manager: &ShardManager) {
    let deadline = tokio::time::Instant::now() + SHARD_STOP_WAIT;
    loop {
        let running = !manager.runners.lock().await.is_empty();
        manager.shutdown_all().await;
        if running {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            warn!("no Discord shard was running at shutdown; serenity may still be connecting one");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            // The sender is gone: nobody can ask for shutdown any more, so stop now.
            return;
        }
    }
}

/// serenity's event handler: READY registers the commands, INTERACTION_CREATE goes to the
/// [`Handler`].
struct Events {
    handler: Arc<dyn Handler>,
    http: Arc<Http>,
    guild: Option<GuildId>,
    /// Commands are registered on the first READY of this run (READY repeats after every
    /// re-identify); a transient failure is retried with backoff, any other failure on
    /// the next READY.
    registered: AtomicBool,
    /// Set once `run_gateway` is on its way out: later events are dropped unanswered.
    stopping: AtomicBool,
    jobs: Mutex<JoinSet<()>>,
}

impl Events {
    async fn drain_jobs(&self) {
        let mut jobs = self.jobs.lock().await;
        if jobs.is_empty() {
            return;
        }
        let running = jobs.len();
        let drained = tokio::time::timeout(JOB_DRAIN, async {
            while let Some(joined) = jobs.join_next().await {
                log_job_end(joined);
            }
        })
        .await;
        if drained.is_err() {
            warn!(
                running,
                left = jobs.len(),
                "deferred interaction jobs still running at shutdown; abandoning them"
            );
            jobs.abort_all();
        }
    }
}

fn log_job_end(joined: Result<(), tokio::task::JoinError>) {
    if let Err(err) = joined {
        if err.is_panic() {
            error!(error = %err, "a deferred interaction job panicked");
        }
    }
}

#[serenity::async_trait]
impl EventHandler for Events {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        info!(
            bot = %ready.user.name,
            user = %ready.user.id,
            guilds = ready.guilds.len(),
            "connected to Discord's gateway"
        );
        if self.http.application_id().is_none() {
            self.http.set_application_id(ready.application.id);
        }
        if self.registered.swap(true, Ordering::AcqRel) {
            return;
        }
        // Transient failures (429, 5xx, network) are tried again here with backoff: the
        // next READY may be days away. serenity runs this handler in its own task, so
        // waiting here holds up no other event.
        let mut delay = REGISTER_RETRY;
        loop {
            let err = match register_commands(&self.http, self.guild).await {
                Ok(registered) => {
                    info!(
                        count = registered.len(),
                        guild = ?self.guild.map(GuildId::get),
                        "slash commands registered"
                    );
                    return;
                }
                Err(err) => err,
            };
            let transient = matches!(
                &err,
                Error::Register { source, .. }
                    if matches!(super::sink::classify(source), DeliveryError::Retry { .. })
            );
            if !transient || self.stopping.load(Ordering::Acquire) {
                self.registered.store(false, Ordering::Release);
                error!(error = %err, "slash commands not registered; retrying on the next READY");
                return;
            }
            warn!(error = %err, retry_in_secs = delay.as_secs(), "slash commands not registered; retrying");
            tokio::time::sleep(delay).await;
            if self.stopping.load(Ordering::Acquire) {
                self.registered.store(false, Ordering::Release);
                return;
            }
            delay = (delay * 2).min(REGISTER_RETRY_MAX);
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let id = interaction.id();
        if self.stopping.load(Ordering::Acquire) {
            debug!(interaction = %id, "interaction after shutdown; not answered");
            return;
        }
        let token = interaction.token().to_owned();
        let command = interaction.as_command().map(|c| c.data.name.clone());
        debug!(interaction = %id, kind = ?interaction.kind(), command = ?command, "interaction received");
        match self.handler.first(interaction) {
            First::Now(response) => {
                respond(&self.http, id, &token, response).await;
            }
            First::Later { ack, job } => {
                if respond(&self.http, id, &token, ack).await {
                    let mut jobs = self.jobs.lock().await;
                    while let Some(joined) = jobs.try_join_next() {
                        log_job_end(joined);
                    }
                    jobs.spawn(job);
                } else {
                    // Without the acknowledgement Discord shows the command as failed and
                    // the job's edit of the original response could not land either.
                    warn!(interaction = %id, "acknowledgement failed; deferred job not run");
                }
            }
        }
    }
}

/// Send the first answer to an interaction (`POST /interactions/{id}/{token}/callback`).
async fn respond(
    http: &Http,
    id: InteractionId,
    token: &str,
    response: CreateInteractionResponse,
) -> bool {
    match response.execute(http, (id, token)).await {
        Ok(()) => true,
        Err(err) => {
            let err = without_url(err);
            warn!(interaction = %id, error = %err, "could not answer the interaction");
            false
        }
    }
}
