//! Discord through serenity: the REST client every Discord call goes through, the slash
//! commands of CONTRACT §6 and their registration, and the gateway adapter that hands
//! each interaction to the [`Handler`] seam and carries out its [`First`] answer.
//!
//! Invariants:
//! - every REST call goes to `chat.discord.api_base` (CONTRACT §6), and so does the
//!   request for the gateway's WebSocket URL, so a local fake stands in for all of Discord;
//! - the token is never logged, formatted into an error, or put in a `Debug` output of ours;
//! - the gateway asks for `GUILDS` only, a non-privileged intent: slash commands arrive as
//!   interactions whatever the intents, and nothing else is read;
//! - an interaction handler never blocks the gateway: serenity runs each event in its own
//!   task, and deferred jobs run in a [`JoinSet`] that shutdown drains (bounded).

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ApplicationId, Command, CommandOptionType, Context, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, EventHandler, GatewayIntents, GuildId, Interaction,
    InteractionContext, InteractionId, Ready,
};
use serenity::builder::Builder as _;
use serenity::client::ClientBuilder;
use serenity::gateway::{GatewayError, ShardManager};
use serenity::http::{Http, HttpBuilder, HttpError};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use super::handler::{First, Handler};
use crate::config::DiscordConfig;
use crate::notify::DeliveryError;

/// Discord's own API base. Any other `api_base` is a proxy or a fake (see [`http`]).
pub const DISCORD_API: &str = "https://discord.com";

/// Connect timeout for REST calls. Discord's edge answers within milliseconds; ten
/// seconds only ever fires on a dead network, and then failing fast is better.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Deadline for one whole REST call, body included. The largest body we send is an
/// escalation script attachment (a few KiB); Discord's interaction tokens last 15 minutes,
/// so a minute leaves room for slow links without holding a task for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long shutdown waits for deferred jobs still running (each edits one response).
const JOB_DRAIN: Duration = Duration::from_secs(10);

/// First wait before a command registration that failed for a transient reason is tried
/// again; it doubles up to [`REGISTER_RETRY_MAX`].
const REGISTER_RETRY: Duration = Duration::from_secs(1);
const REGISTER_RETRY_MAX: Duration = Duration::from_secs(300);

/// How long shutdown waits for a shard that is still connecting (see [`stop_shards`]).
const SHARD_STOP_WAIT: Duration = Duration::from_secs(2);

/// Errors of the Discord adapter. The token never appears in one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("could not build the HTTP client for Discord: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error(
        "Discord refused the token in ${token_env}: reset it in the Discord developer portal \
         (Applications → your bot → Bot → Reset Token) and put the new token in ${token_env}"
    )]
    TokenRefused { token_env: String },
    #[error(
        "could not ask {api_base} for the application id: {source}; set chat.discord.application_id \
         to the id shown in the Discord developer portal, or check api_base and the network"
    )]
    ApplicationId {
        api_base: String,
        #[source]
        source: Box<serenity::Error>,
    },
    #[error("could not register the slash commands {scope}: {source}")]
    Register {
        scope: String,
        #[source]
        source: Box<serenity::Error>,
    },
    #[error(
        "could not ask {api_base} for the gateway address: {source}; check chat.discord.api_base \
         and the network"
    )]
    GatewayUrl {
        api_base: String,
        #[source]
        source: Box<serenity::Error>,
    },
    #[error(
        "Discord refused the gateway intents: trustwatch asks only for GUILDS; check the bot's \
         settings in the Discord developer portal"
    )]
    Intents,
    #[error(
        "cannot serve the interactions endpoint on {addr}: {reason}; check \
         chat.discord.interactions_listen (is another process on that port?)"
    )]
    Listen { addr: String, reason: String },
    #[error("the Discord gateway connection failed: {source}")]
    Gateway {
        #[source]
        source: Box<serenity::Error>,
    },
}

/// The REST client for `config`: serenity's [`Http`] pointed at `api_base`, with a reqwest
/// client that has timeouts and ignores the system proxy settings.
///
/// # Errors
/// [`Error::HttpClient`] when the TLS backend cannot be set up.
pub fn http(config: &DiscordConfig, token: &str) -> Result<Arc<Http>, Error> {
    Ok(Arc::new(http_builder(config, token)?.build()))
}

fn http_builder(config: &DiscordConfig, token: &str) -> Result<HttpBuilder, Error> {
    // Redirects: Discord's API does not redirect, and following one would carry the
    // Authorization header to wherever it points. No system proxy: `api_base` is the only
    // way to route Discord traffic elsewhere (CONTRACT §6).
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(Error::HttpClient)?;
    let mut builder = HttpBuilder::new(token).client(client);
    let base = config.api_base.trim_end_matches('/');
    if base != DISCORD_API {
        // serenity's `proxy` is a URL-prefix rewrite: `Request::build` replaces
        // "https://discord.com" in each route with this base. Only the direct path applies
        // it; the ratelimiter builds its requests with no proxy and would reach the real
        // Discord (LIBRARIES.md §1, serenity `src/http/ratelimiting.rs`). So whenever the
        // base is not Discord's, the ratelimiter is off and rate limits are the proxy's job
        // (a fake has none).
        builder = builder.proxy(base).ratelimiter_disabled(true);
    }
    if let Some(id) = config.application_id.and_then(NonZeroU64::new) {
        builder = builder.application_id(ApplicationId::from(id));
    }
    Ok(builder)
}

/// The application id: the configured one, else asked of the API. Either way it is set on
/// `http`, which needs it for command registration and for editing interaction responses.
///
/// # Errors
/// [`Error::TokenRefused`] when the API answers 401, [`Error::ApplicationId`] otherwise.
pub async fn application_id(http: &Http, config: &DiscordConfig) -> Result<ApplicationId, Error> {
    if let Some(id) = config.application_id.and_then(NonZeroU64::new) {
        let id = ApplicationId::from(id);
        http.set_application_id(id);
        return Ok(id);
    }
    let info = http
        .get_current_application_info()
        .await
        .map_err(|source| {
            if is_unauthorized(&source) {
                Error::TokenRefused {
                    token_env: config.token_env.clone(),
                }
            } else {
                Error::ApplicationId {
                    api_base: config.api_base.clone(),
                    source: Box::new(source),
                }
            }
        })?;
    http.set_application_id(info.id);
    info!(application = %info.id, "application id asked of the API");
    Ok(info.id)
}

/// Register CONTRACT §6's slash commands in one bulk overwrite: for `guild` when given
/// (they appear at once), else globally. `http` must know the application id.
///
/// # Errors
/// [`Error::Register`] when the API refuses or cannot be reached.
pub async fn register_commands(http: &Http, guild: Option<GuildId>) -> Result<Vec<Command>, Error> {
    let result = match guild {
        Some(guild) => guild.set_commands(http, commands()).await,
        None => Command::set_global_commands(http, commands()).await,
    };
    result.map_err(|source| Error::Register {
        scope: guild.map_or_else(|| "globally".to_owned(), |g| format!("for guild {g}")),
        source: Box::new(source),
    })
}

/// The slash commands of CONTRACT §6. Pure, so the registration body is testable.
///
/// Discord's rules: names are 1-32 lower-case characters, descriptions 1-100 characters;
/// required options come before optional ones. Commands are usable in guilds only: the
/// approver check needs a guild member's roles.
#[must_use]
pub fn commands() -> Vec<CreateCommand> {
    let fingerprint = |what: &str| {
        CreateCommandOption::new(
            CommandOptionType::String,
            "fingerprint",
            format!("SHA-256 fingerprint of the {what} (hex, colons optional)"),
        )
        .required(true)
    };
    let guild_only = |command: CreateCommand| command.contexts(vec![InteractionContext::Guild]);
    vec![
        guild_only(
            CreateCommand::new("verify")
                .description(
                    "Verify a vendor package; give package (a file) or url, one is required",
                )
                .add_option(CreateCommandOption::new(
                    CommandOptionType::Attachment,
                    "package",
                    "The package file to verify (or give url)",
                ))
                .add_option(CreateCommandOption::new(
                    CommandOptionType::String,
                    "url",
                    "Where to download the package (or attach it as package)",
                )),
        ),
        guild_only(
            CreateCommand::new("trust")
                .description("Show or change the trust store")
                .add_option(
                    CreateCommandOption::new(
                        CommandOptionType::SubCommand,
                        "list",
                        "List trust anchors and their state",
                    )
                    .add_sub_option(CreateCommandOption::new(
                        CommandOptionType::String,
                        "vendor",
                        "Only this vendor (its name in the config, e.g. dten)",
                    )),
                )
                .add_option(
                    CreateCommandOption::new(
                        CommandOptionType::SubCommand,
                        "approve",
                        "Approve a candidate anchor (approvers only)",
                    )
                    .add_sub_option(fingerprint("anchor to approve")),
                )
                .add_option(
                    CreateCommandOption::new(
                        CommandOptionType::SubCommand,
                        "revoke",
                        "Revoke an anchor (approvers only)",
                    )
                    .add_sub_option(fingerprint("anchor to revoke"))
                    .add_sub_option(
                        CreateCommandOption::new(
                            CommandOptionType::String,
                            "reason",
                            "Why it is revoked (kept in the audit log)",
                        )
                        .required(true),
                    ),
                ),
        ),
        guild_only(
            CreateCommand::new("escalate")
                .description("Make an escalation script for an unknown or pending key")
                .add_option(fingerprint("key")),
        ),
        guild_only(
            CreateCommand::new("status")
                .description("Show sources, last poll, failures and store size"),
        ),
    ]
}

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

fn is_unauthorized(err: &serenity::Error) -> bool {
    matches!(err, serenity::Error::Http(http) if http.status_code() == Some(reqwest::StatusCode::UNAUTHORIZED))
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

/// A REST error fit for the log: reqwest's errors name the URL, and an interaction
/// callback's URL carries the interaction token.
fn without_url(err: serenity::Error) -> serenity::Error {
    match err {
        serenity::Error::Http(HttpError::Request(e)) => {
            serenity::Error::Http(HttpError::Request(e.without_url()))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(api_base: &str) -> DiscordConfig {
        DiscordConfig {
            token_env: "DISCORD_TOKEN".to_owned(),
            channel_id: 1,
            approver_role_id: 2,
            guild_id: None,
            application_id: Some(42),
            api_base: api_base.to_owned(),
            interactions_public_key: None,
            interactions_listen: None,
        }
    }

    #[test]
    fn discord_itself_keeps_the_ratelimiter_and_no_proxy() {
        let http = http(&config("https://discord.com/"), "t").unwrap();
        assert!(http.proxy.is_none());
        assert!(http.ratelimiter.is_some());
        assert_eq!(http.application_id(), Some(ApplicationId::new(42)));
    }

    #[test]
    fn another_base_is_a_proxy_without_ratelimiter() {
        let http = http(&config("http://127.0.0.1:9/"), "t").unwrap();
        assert_eq!(http.proxy.as_deref(), Some("http://127.0.0.1:9"));
        assert!(http.ratelimiter.is_none());
        assert_eq!(http.token(), "Bot t");
    }

    #[tokio::test]
    async fn logged_rest_errors_do_not_name_the_interaction_token() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let http = http(&config(&base), "t").unwrap();
        let err = CreateInteractionResponse::Acknowledge
            .execute(&*http, (InteractionId::new(1), "secret-interaction-token"))
            .await
            .unwrap_err();
        let raw = format!("{err}: {:?}", std::error::Error::source(&err));
        assert!(raw.contains("secret-interaction-token"), "{raw}");
        let err = without_url(err);
        let logged = format!("{err}: {:?}", std::error::Error::source(&err));
        assert!(!logged.contains("secret-interaction-token"), "{logged}");
    }

    #[test]
    fn errors_never_carry_the_token() {
        let err = Error::TokenRefused {
            token_env: "DISCORD_TOKEN".to_owned(),
        };
        let text = err.to_string();
        assert!(text.contains("$DISCORD_TOKEN"), "{text}");
        assert!(text.contains("reset it"), "{text}");
    }

    #[test]
    fn commands_follow_discords_rules() {
        let json = serde_json::to_value(commands()).unwrap();
        let names: Vec<&str> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["verify", "trust", "escalate", "status"]);
        fn check(value: &serde_json::Value) {
            let name = value["name"].as_str().unwrap();
            assert!(
                (1..=32).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_'),
                "bad name {name:?}"
            );
            let description = value["description"].as_str().unwrap();
            assert!(
                (1..=100).contains(&description.chars().count()),
                "description of {name} is {} chars",
                description.chars().count()
            );
            let options = value["options"].as_array().cloned().unwrap_or_default();
            let mut seen_optional = false;
            for option in &options {
                let required = option["required"].as_bool().unwrap_or(false);
                assert!(
                    !(required && seen_optional),
                    "{name}: required option after an optional one"
                );
                seen_optional |= !required;
                check(option);
            }
        }
        for command in json.as_array().unwrap() {
            check(command);
            assert_eq!(command["contexts"], serde_json::json!([0]));
        }
    }

    #[test]
    fn commands_snapshot() {
        // Names, option types (1 subcommand, 3 string, 11 attachment) and required flags.
        let summary: Vec<String> = serde_json::to_value(commands())
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(summarize)
            .collect();
        insta::assert_debug_snapshot!(summary);
    }

    fn summarize(value: &serde_json::Value) -> String {
        let options: Vec<String> = value["options"]
            .as_array()
            .map(|o| o.iter().map(summarize).collect())
            .unwrap_or_default();
        let mut text = format!(
            "{}{}{}",
            value["name"].as_str().unwrap(),
            value["type"]
                .as_u64()
                .map(|t| format!(":{t}"))
                .unwrap_or_default(),
            if value["required"].as_bool() == Some(true) {
                "!"
            } else {
                ""
            }
        );
        if !options.is_empty() {
            text = format!("{text}({})", options.join(", "));
        }
        text
    }
}
