//! The webhook sink: a Slack-compatible incoming webhook (`text` fallback plus
//! `attachments` with `color`, `title`, `title_link`, `text`, `fields` and `footer`),
//! which Mattermost and Teams workflows accept too.
//!
//! The URL is a secret (whoever has it can post): it is read from the environment
//! variable `url_env` names, held only here, never logged, never in an error, and not
//! shown by `Debug`. Answers: 2xx delivered; 429 (with `Retry-After` or a JSON
//! `retry_after`), 5xx, timeouts and connection errors are retried; any other status is
//! a permanent refusal of that message. Each POST carries the notice id as
//! `Idempotency-Key`, so an endpoint that deduplicates sees a re-send as one message.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{json, Value};

use super::{DeliveryError, Error, Notice, Sink};
use crate::chat::Message;
use crate::config::{HttpConfig, WebhookConfig};
use crate::fetch::post::{PostError, Poster};

/// The outbox key of a webhook.
pub fn sink_name(name: &str) -> String {
    format!("webhook:{name}")
}

pub struct WebhookSink {
    name: String,
    url: url::Url,
    poster: Poster,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("name", &self.name)
            .field("url", &"<redacted>")
            .finish()
    }
}

impl WebhookSink {
    /// Read the URL from the variable `config.url_env` names.
    pub fn from_env(config: &WebhookConfig, http: &HttpConfig) -> Result<Self, Error> {
        let value = std::env::var(&config.url_env)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| Error::MissingEnv {
                name: config.name.clone(),
                var: config.url_env.clone(),
            })?;
        let url = url::Url::parse(value.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| Error::BadUrl {
                name: config.name.clone(),
                var: config.url_env.clone(),
            })?;
        Self::new(&config.name, url, http)
    }

    pub fn new(name: &str, url: url::Url, http: &HttpConfig) -> Result<Self, Error> {
        Ok(Self {
            name: name.to_owned(),
            url,
            poster: Poster::new(http).map_err(|e| Error::Client(e.to_string()))?,
        })
    }

    async fn post(&self, body: &Value, id: Option<&str>) -> Result<(), DeliveryError> {
        let bytes = serde_json::to_vec(body).map_err(|e| DeliveryError::Permanent {
            reason: format!("cannot encode the message: {e}"),
        })?;
        let headers: Vec<(&str, &str)> = id.map(|id| ("idempotency-key", id)).into_iter().collect();
        let answer = self.poster.post_json(&self.url, bytes, &headers).await;
        classify(answer)
    }
}

/// An answer as a delivery result.
fn classify(answer: Result<crate::fetch::post::Posted, PostError>) -> Result<(), DeliveryError> {
    let posted = match answer {
        Ok(p) => p,
        Err(e) => {
            return Err(DeliveryError::Retry {
                after: None,
                reason: format!("webhook unreachable: {e}"),
            })
        }
    };
    let snippet = || {
        let text = String::from_utf8_lossy(&posted.body);
        let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    };
    match posted.status {
        200..=299 => Ok(()),
        429 => {
            let json_after = serde_json::from_slice::<Value>(&posted.body)
                .ok()
                .and_then(|v| v.get("retry_after").and_then(Value::as_f64))
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
            Err(DeliveryError::Retry {
                after: posted.retry_after.or(json_after),
                reason: format!("webhook rate-limited (HTTP 429){}", snippet()),
            })
        }
        500..=599 => Err(DeliveryError::Retry {
            after: posted.retry_after,
            reason: format!("webhook server error (HTTP {}){}", posted.status, snippet()),
        }),
        300..=399 => Err(DeliveryError::Permanent {
            reason: format!(
                "webhook answered with a redirect (HTTP {}), which is not followed: check the URL",
                posted.status
            ),
        }),
        s => Err(DeliveryError::Permanent {
            reason: format!("webhook refused the message (HTTP {s}){}", snippet()),
        }),
    }
}

/// `#rrggbb` of an embed colour.
fn hex_colour(c: u32) -> String {
    format!("#{:06x}", c & 0x00ff_ffff)
}

/// A message as a Slack-compatible body.
/// Text for Slack's mrkdwn (also read by Mattermost and Teams workflows): the Discord
/// escapes of [`plain`](crate::chat::render::plain) undone, then `&`, `<` and `>`
/// escaped as Slack asks, so `<https://evil|click>` in a feed cannot become a link.
pub fn slack_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|n| n.is_ascii_punctuation()) => {
                if let Some(n) = chars.next() {
                    push_slack(&mut out, n);
                }
            }
            c => push_slack(&mut out, c),
        }
    }
    out
}

fn push_slack(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

pub fn body(message: &Message) -> Value {
    let attachments: Vec<Value> = message
        .embeds
        .iter()
        .map(|e| {
            let fields: Vec<Value> = e
                .fields
                .iter()
                .map(|f| {
                    json!({"title": slack_text(&f.name), "value": slack_text(&f.value), "short": f.inline})
                })
                .collect();
            let mut a = json!({
                "fallback": slack_text(&e.title),
                "color": hex_colour(e.colour),
                "title": slack_text(&e.title),
                "text": slack_text(&e.description),
                "fields": fields,
            });
            if let Some(u) = &e.url {
                a["title_link"] = json!(u);
            }
            if let Some(f) = &e.footer {
                a["footer"] = json!(slack_text(f));
            }
            if let Some(t) = e.timestamp {
                a["ts"] = json!(t.unix_timestamp());
            }
            a
        })
        .collect();
    let text = if message.content.is_empty() {
        message
            .embeds
            .first()
            .map(|e| slack_text(&e.title))
            .unwrap_or_default()
    } else {
        slack_text(&message.content)
    };
    json!({"text": text, "attachments": attachments})
}

impl Sink for WebhookSink {
    fn name(&self) -> String {
        sink_name(&self.name)
    }

    fn deliver<'a>(
        &'a self,
        notice: &'a Notice,
        message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(async move { self.post(&body(message), Some(&notice.id)).await })
    }

    fn announce<'a>(
        &'a self,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(async move { self.post(&json!({ "text": text }), None).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::post::Posted;

    fn answer(status: u16, retry_after: Option<u64>, body: &str) -> Result<(), DeliveryError> {
        classify(Ok(Posted {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: body.as_bytes().to_vec(),
        }))
    }

    #[test]
    fn outside_text_cannot_become_a_slack_link() {
        let discord_safe =
            crate::chat::render::plain("<https://evil.example|click> **hi** & [x](y)");
        assert_eq!(
            slack_text(&discord_safe),
            "&lt;https://evil.example|click&gt; **hi** &amp; [x](y)"
        );
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(answer(204, None, ""), Ok(()));
        assert!(matches!(
            answer(429, Some(3), ""),
            Err(DeliveryError::Retry { after: Some(d), .. }) if d == Duration::from_secs(3)
        ));
        assert!(matches!(
            answer(429, None, r#"{"retry_after": 1.5}"#),
            Err(DeliveryError::Retry { after: Some(d), .. }) if d == Duration::from_millis(1500)
        ));
        assert!(matches!(
            answer(503, None, ""),
            Err(DeliveryError::Retry { after: None, .. })
        ));
        assert!(matches!(
            answer(400, None, "invalid_payload"),
            Err(DeliveryError::Permanent { reason }) if reason.contains("HTTP 400") && reason.contains("invalid_payload")
        ));
        assert!(matches!(
            answer(301, None, ""),
            Err(DeliveryError::Permanent { .. })
        ));
        assert!(matches!(
            classify(Err(PostError::Timeout)),
            Err(DeliveryError::Retry { .. })
        ));
    }

    #[test]
    fn debug_hides_the_url() {
        let http = crate::config::Config::default().http;
        let url = url::Url::parse("https://hooks.example/services/T0/B0/secret").unwrap();
        let sink = WebhookSink::new("ops", url, &http).unwrap();
        assert!(!format!("{sink:?}").contains("secret"));
        assert_eq!(sink.name(), "webhook:ops");
    }
}
