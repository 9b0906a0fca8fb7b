//! POSTs to operator-configured chat endpoints (webhooks). Same client settings as
//! every other request (user agent, connect and total timeouts, no proxy), but no
//! redirect is followed (a webhook that redirects is misconfigured, and following it
//! would send the message somewhere nobody configured) and the response is read only
//! up to [`MAX_RESPONSE`]. Configured chat endpoints are not behind the address guard
//! (CONTRACT §4).
//!
//! Invariant: the URL is a secret (a webhook URL is its own credential), so no error
//! or log line made here contains it: reqwest's errors are stripped of it.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{redirect, Client};

use super::{retry_after, Error};
use crate::config::HttpConfig;

/// Most response bytes read: a chat API answers with a short JSON error at most.
pub const MAX_RESPONSE: usize = 64 << 10;

/// What the endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub status: u16,
    /// The `Retry-After` header, when sent.
    pub retry_after: Option<Duration>,
    /// The body, cut at [`MAX_RESPONSE`].
    pub body: Vec<u8>,
}

/// Why nothing was answered. Never holds the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PostError {
    #[error("timed out (http.timeout)")]
    Timeout,
    #[error("{0}")]
    Network(String),
}

/// A client for chat endpoints.
#[derive(Clone)]
pub struct Poster {
    client: Client,
}

impl std::fmt::Debug for Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poster").finish_non_exhaustive()
    }
}

impl Poster {
    pub fn new(http: &HttpConfig) -> Result<Self, Error> {
        let client = Client::builder()
            .user_agent(http.user_agent.clone())
            .connect_timeout(http.connect_timeout)
            .timeout(http.timeout)
            .no_proxy()
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|e| Error::Network {
                url: String::new(),
                reason: format!("cannot build the HTTP client: {}", e.without_url()),
            })?;
        Ok(Self { client })
    }

    /// POST `body` as JSON to `url` with extra `headers`.
    pub async fn post_json(
        &self,
        url: &url::Url,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Result<Posted, PostError> {
        let mut req = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send().await.map_err(describe)?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers()).map(Duration::from_secs);
        let mut body = Vec::new();
        // A read error after the status is known does not change the answer.
        while let Ok(Some(chunk)) = resp.chunk().await {
            let room = MAX_RESPONSE - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_RESPONSE {
                break;
            }
        }
        Ok(Posted {
            status,
            retry_after,
            body,
        })
    }
}

/// A reqwest error without its URL, with its cause chain.
fn describe(e: reqwest::Error) -> PostError {
    if e.is_timeout() {
        return PostError::Timeout;
    }
    let e = e.without_url();
    let mut reason = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        src = s.source();
    }
    PostError::Network(reason)
}
