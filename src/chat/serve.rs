//! Discord while `run` is up: the token from the environment, the REST client, the sink
//! that posts notices, and the transport that brings commands in (the gateway, or the
//! HTTP interactions endpoint when `interactions_public_key` is set), supervised: a
//! transport that fails for a transient reason is started again with capped backoff; a
//! refused token stops chat (loudly) but never the watchers, whose notices stay queued.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{GuildId, Http};
use time::OffsetDateTime;
use tokio::sync::watch;

use super::commands::Bot;
use super::discord::{self, Error};
use super::handler::Handler;
use super::sink::DiscordSink;
use crate::config::DiscordConfig;
use crate::store::{ChatHealth, ChatState, Store};

/// Longest wait before a failed transport is started again.
const MAX_RESTART: Duration = Duration::from_secs(300);

/// Why Discord could not be set up at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    #[error(
        "chat.discord needs the bot token in the environment variable {0}, which is not set \
         (or empty): put it in the service's environment file, never in the config"
    )]
    NoToken(String),
    #[error(transparent)]
    Discord(#[from] Error),
}

/// The token and the REST client at `api_base`.
pub struct Discord {
    pub config: DiscordConfig,
    pub http: Arc<Http>,
    token: String,
}

impl std::fmt::Debug for Discord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discord")
            .field("api_base", &self.config.api_base)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Discord {
    /// Read the token from `token_env` and build the REST client.
    pub fn from_env(config: &DiscordConfig) -> Result<Self, SetupError> {
        let token = std::env::var(&config.token_env)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SetupError::NoToken(config.token_env.clone()))?;
        let http = discord::http(config, &token)?;
        Ok(Self {
            config: config.clone(),
            http,
            token,
        })
    }

    /// The sink that posts notices to `channel_id`.
    pub fn sink(&self, store: Option<Arc<Store>>) -> DiscordSink {
        DiscordSink::new(
            self.http.clone(),
            self.config.channel_id,
            store,
            self.config.approver_role_id,
        )
    }

    /// Serve commands until `shutdown`: the HTTP endpoint or the gateway, restarted with
    /// backoff after transient failures. Returns the error that stopped chat for good.
    pub async fn serve(
        &self,
        bot: Arc<Bot>,
        store: Arc<Store>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let handler: Arc<dyn Handler> = bot;
        let mut delay = Duration::from_secs(1);
        let say = |health: ChatHealth, reason: Option<String>| {
            let state = ChatState {
                transport: self.transport().to_owned(),
                health,
                reason,
                since: OffsetDateTime::now_utc(),
            };
            if let Err(e) = store.set_chat_state(&state) {
                tracing::warn!(error = %e, "could not record chat's state");
            }
        };
        loop {
            say(ChatHealth::Running, None);
            let result = self.serve_once(handler.clone(), shutdown.clone()).await;
            if *shutdown.borrow() {
                say(
                    ChatHealth::Stopped,
                    Some("trustwatch run stopped".to_owned()),
                );
                return Ok(());
            }
            match result {
                Err(e @ (Error::TokenRefused { .. } | Error::Intents)) => {
                    tracing::error!(error = %e, "chat stopped; notices stay queued until it is fixed and trustwatch restarted");
                    say(ChatHealth::Stopped, Some(e.to_string()));
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_secs = delay.as_secs(), "chat transport failed; restarting");
                    say(ChatHealth::Restarting, Some(e.to_string()));
                }
                Ok(()) => {
                    tracing::warn!(
                        retry_in_secs = delay.as_secs(),
                        "chat transport ended; restarting"
                    );
                    say(
                        ChatHealth::Restarting,
                        Some("the transport ended".to_owned()),
                    );
                }
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => {
                    say(ChatHealth::Stopped, Some("trustwatch run stopped".to_owned()));
                    return Ok(());
                }
            }
            delay = (delay * 2).min(MAX_RESTART);
        }
    }

    /// How commands come in: `gateway` or `interactions endpoint`.
    pub fn transport(&self) -> &'static str {
        if self.config.interactions_public_key.is_some() {
            "interactions endpoint"
        } else {
            "gateway"
        }
    }

    async fn serve_once(
        &self,
        handler: Arc<dyn Handler>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let (Some(key), Some(listen)) = (
            &self.config.interactions_public_key,
            &self.config.interactions_listen,
        ) else {
            return super::gateway::run_gateway(
                self.token.clone(),
                self.config.clone(),
                handler,
                self.http.clone(),
                shutdown,
            )
            .await;
        };
        // The endpoint edits deferred answers through REST, which needs the
        // application id; the gateway learns it from READY.
        discord::application_id(&self.http, &self.config).await?;
        discord::register_commands(&self.http, self.config.guild_id.map(GuildId::new)).await?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::Listen {
                addr: listen.clone(),
                reason: e.to_string(),
            })?;
        super::interactions::serve(listener, key, handler, shutdown)
            .await
            .map_err(|e| Error::Listen {
                addr: listen.clone(),
                reason: e.to_string(),
            })
    }
}
