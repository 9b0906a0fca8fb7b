//! Discord through serenity: the REST client every Discord call goes through, and the
//! slash commands of CONTRACT §6 and their registration. The gateway transport is in
//! `chat/gateway.rs`.
//!
//! Invariants:
//! - every REST call goes to `chat.discord.api_base` (CONTRACT §6), and so does the
//!   request for the gateway's WebSocket URL, so a local fake stands in for all of Discord;
//! - the token is never logged, formatted into an error, or put in a `Debug` output of ours.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ApplicationId, Command, CommandOptionType, CreateCommand, CreateCommandOption, GuildId,
    InteractionContext,
};
use serenity::http::{Http, HttpBuilder, HttpError};
use tracing::info;

use crate::config::DiscordConfig;

/// Discord's own API base. Any other `api_base` is a proxy or a fake (see [`http`]).
pub const DISCORD_API: &str = "https://discord.com";

/// Connect timeout for REST calls. Discord's edge answers within milliseconds; ten
/// seconds only ever fires on a dead network, and then failing fast is better.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Deadline for one whole REST call, body included. The largest body we send is an
/// escalation script attachment (a few KiB); Discord's interaction tokens last 15 minutes,
/// so a minute leaves room for slow links without holding a task for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

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

pub(super) fn http_builder(config: &DiscordConfig, token: &str) -> Result<HttpBuilder, Error> {
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

pub(super) fn is_unauthorized(err: &serenity::Error) -> bool {
    matches!(err, serenity::Error::Http(http) if http.status_code() == Some(reqwest::StatusCode::UNAUTHORIZED))
}

/// A REST error fit for the log: reqwest's errors name the URL, and an interaction
/// callback's URL carries the interaction token.
pub(super) fn without_url(err: serenity::Error) -> serenity::Error {
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
    use serenity::all::{CreateInteractionResponse, InteractionId};
    use serenity::builder::Builder as _;

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
