//! The Discord sink: findings from the outbox posted to `channel_id` through serenity's
//! REST client (at `api_base`).
//!
//! Each post carries the outbox item's id as its `nonce` with `enforce_nonce`, so when
//! trustwatch crashes after Discord accepted a message but before the outbox marked it
//! delivered, the re-send returns the first message instead of posting it twice.
//! Errors map to the notifier's retry rules: 429, 5xx and transport failures are
//! retried with backoff; any other refusal (403 missing access, 404 unknown channel,
//! 400 a message Discord will never take) is permanent for that item, kept and shown
//! in `/status` and `trustwatch status`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serenity::all::{ChannelId, CreateMessage, Http, HttpError};
use time::OffsetDateTime;

use super::builders::channel_message;
use super::{evidence, notice, Message};
use crate::advisory::FindingKind;
use crate::notify::{DeliveryError, Notice, Sink, DISCORD};
use crate::store::Store;

pub struct DiscordSink {
    http: Arc<Http>,
    channel: ChannelId,
    /// For the evidence shown with rotation notices (`notify --test` has none).
    store: Option<Arc<Store>>,
    approver_role: u64,
}

impl DiscordSink {
    pub fn new(
        http: Arc<Http>,
        channel_id: u64,
        store: Option<Arc<Store>>,
        approver_role: u64,
    ) -> Self {
        Self {
            http,
            channel: ChannelId::new(channel_id),
            store,
            approver_role,
        }
    }

    async fn post(&self, builder: CreateMessage) -> Result<(), DeliveryError> {
        match self.channel.send_message(&*self.http, builder).await {
            Ok(m) => {
                tracing::debug!(
                    message = m.id.get(),
                    channel = self.channel.get(),
                    "posted to Discord"
                );
                Ok(())
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

/// serenity's error as the notifier's retry rule.
pub fn classify(e: &serenity::Error) -> DeliveryError {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let status = r.status_code.as_u16();
            let reason = format!(
                "Discord answered {status}: {} (code {})",
                r.error.message, r.error.code
            );
            if status == 429 || status >= 500 {
                DeliveryError::Retry {
                    after: None,
                    reason,
                }
            } else {
                let hint = match status {
                    401 => ": the token was refused; reset it in the developer portal",
                    403 => {
                        ": give the bot View Channel, Send Messages and Embed Links in the channel"
                    }
                    404 => ": check chat.discord.channel_id",
                    _ => "",
                };
                DeliveryError::Permanent {
                    reason: format!("{reason}{hint}"),
                }
            }
        }
        serenity::Error::Http(HttpError::Request(r)) => DeliveryError::Retry {
            after: None,
            reason: format!("Discord unreachable: {r}"),
        },
        other => DeliveryError::Permanent {
            reason: format!("Discord refused the message: {other}"),
        },
    }
}

impl Sink for DiscordSink {
    fn name(&self) -> String {
        DISCORD.to_owned()
    }

    fn deliver<'a>(
        &'a self,
        notice: &'a Notice,
        message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(async move {
            let ev = if let (FindingKind::CaRotation, Some(store)) =
                (notice.finding.kind, self.store.clone())
            {
                let finding = notice.finding.clone();
                tokio::task::spawn_blocking(move || {
                    evidence::for_finding(&store, &finding, OffsetDateTime::now_utc())
                })
                .await
                .ok()
                .and_then(|r| {
                    r.map_err(|e| tracing::warn!(error = %e, "no evidence for the notice"))
                        .ok()
                })
            } else {
                None
            };
            let m = notice::decorate(
                message.clone(),
                &notice.finding,
                ev.as_ref(),
                self.approver_role,
            );
            self.post(channel_message(&m, Some(&notice.id))).await
        })
    }

    fn announce<'a>(
        &'a self,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(async move {
            let m = Message {
                content: text.to_owned(),
                ..Message::default()
            }
            .fit();
            self.post(channel_message(&m, None)).await
        })
    }
}
