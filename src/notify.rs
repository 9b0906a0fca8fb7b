//! Delivering findings to chat: the store's outbox is drained by one task per sink.
//!
//! Poll records a finding and enqueues one outbox item per configured sink in the same
//! transaction (`store/outbox.rs`). A drain task per sink takes due items oldest first,
//! renders each with a [`Render`], delivers it through its [`Sink`], and marks it
//! delivered only when the sink accepted it. A [`DeliveryError::Retry`] (the sink is
//! down, rate-limited, a 5xx) backs the whole sink off exponentially with jitter,
//! honouring `Retry-After`; a [`DeliveryError::Permanent`] (the sink refused this
//! message) keeps the item as failed, to be retried much later and shown by `status`.
//! Nothing is ever dropped; a crash between delivering and marking re-sends the item
//! with the same id (a Discord `nonce`, a webhook `Idempotency-Key`).
//!
//! - `notify/drain.rs`: the backoff, one drain pass, the drain task, the bounded drain
//!   of `poll --once`.
//! - `notify/render.rs`: the default renderer (pure).
//! - `notify/webhook.rs`: the Slack-compatible webhook sink.
//! - `notify/status.rs`: what `trustwatch status` and Discord's `/status` show.

mod drain;
pub mod render;
mod status;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use drain::{
    announce_all, drain_bounded, drain_pass, run_drain, Backoff, Budget, DrainReport, Pass, BATCH,
    MAX_RETRY_DELAY, MIN_RETRY_DELAY, PERMANENT_RETRY, TICK,
};
pub use status::{status, NotPostedStatus, SinkStatus, SourceStatus, Status};

use crate::advisory::FindingKind;
use crate::config::Config;
use crate::store::{Delivery, NotPostedReason};

/// One finding to deliver, as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Stable across retries and restarts (at most 25 characters: a Discord `nonce`).
    pub id: String,
    pub finding: crate::advisory::Finding,
    pub update: bool,
    pub queued: time::OffsetDateTime,
}

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The sink is down or asked us to slow down: try again (not before `after`).
    #[error("{reason}")]
    Retry {
        after: Option<std::time::Duration>,
        reason: String,
    },
    /// The sink refused this message: keep it as failed.
    #[error("{reason}")]
    Permanent { reason: String },
}

/// A chat sink: Discord, a webhook.
pub trait Sink: Send + Sync {
    /// Outbox key of this sink: "discord", "webhook:<name>".
    fn name(&self) -> String;
    fn deliver<'a>(
        &'a self,
        notice: &'a Notice,
        message: &'a crate::chat::Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;
    /// A one-line test / "online" message.
    fn announce<'a>(
        &'a self,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;
}

/// Turns a notice into a message (the default is [`render::finding`]).
pub type Render = Arc<dyn Fn(&Notice) -> crate::chat::Message + Send + Sync>;

/// The default renderer as a [`Render`].
pub fn default_render() -> Render {
    Arc::new(render::finding)
}

/// Why sinks could not be built from the config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "chat.webhook {name:?}: the environment variable {var} is not set (or empty); \
         put the webhook URL in it, e.g. in the service's environment file"
    )]
    MissingEnv { name: String, var: String },
    #[error(
        "chat.webhook {name:?}: the URL in {var} is not an http(s) URL; check the variable \
         (its value is not shown: it is a secret)"
    )]
    BadUrl { name: String, var: String },
    #[error("cannot build the HTTP client for chat: {0}")]
    Client(String),
}

/// The outbox key of the Discord sink.
pub const DISCORD: &str = "discord";

/// The outbox keys of the configured sinks: `discord` when `[chat.discord]` is set,
/// then `webhook:<name>` per `[[chat.webhook]]`. Poll enqueues one item per name.
pub fn sink_names(config: &Config) -> Vec<String> {
    let discord = config.chat.discord.as_ref().map(|_| DISCORD.to_owned());
    discord
        .into_iter()
        .chain(
            config
                .chat
                .webhooks
                .iter()
                .map(|w| webhook::sink_name(&w.name)),
        )
        .collect()
}

/// What to do with a recorded finding of `kind`: enqueue it for `sinks`, or count it
/// as filtered (`chat.notify`). Without sinks, nothing is enqueued or counted.
pub fn delivery_for<'a>(config: &Config, kind: FindingKind, sinks: &'a [String]) -> Delivery<'a> {
    if !sinks.is_empty() && !config.chat.notify.contains(&kind) {
        Delivery::NotPosted(NotPostedReason::Filtered)
    } else {
        Delivery::To(sinks)
    }
}

/// The sinks this crate builds from the config: one per `[[chat.webhook]]`, its URL
/// read from the environment now (a missing variable is an error naming it). The
/// Discord sink is built by the chat module and added by the caller.
pub fn sinks_from_config(config: &Config) -> Result<Vec<Arc<dyn Sink>>, Error> {
    config
        .chat
        .webhooks
        .iter()
        .map(|w| {
            webhook::WebhookSink::from_env(w, &config.http).map(|s| Arc::new(s) as Arc<dyn Sink>)
        })
        .collect()
}

/// The one-line "online" announcement.
pub fn online_text(sources: usize, queued: u64) -> String {
    format!(
        "trustwatch {} online: watching {sources} source(s), {queued} notice(s) queued",
        status::VERSION
    )
}
