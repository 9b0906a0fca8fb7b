//! All HTTP happens here (and `file://` reads of configured mirrors). One `Fetcher`
//! holds two reqwest clients: one for operator-configured sources, fetched as written,
//! and one behind the address guard (`guard`) for every other URL. Both send the
//! configured user agent, have connect and total timeouts, a redirect cap, gzip and
//! brotli, and never use a proxy. Bodies are read as a stream with the size cap enforced
//! while reading. Conditional GET uses the validators the caller kept (ETag,
//! Last-Modified); a 304 is `NotModified`. A `Retry-After` is returned with the error so
//! the poller can honour it. Requests to one host are spaced by `MIN_HOST_GAP`, and at
//! most `MAX_IN_FLIGHT` run at once, so thousands of sources on one host do not hammer it.

pub mod guard;
pub mod post;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{
    HeaderMap, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use reqwest::{redirect, Client, StatusCode};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::{file_url_path, HttpConfig};

/// Smallest gap between two requests to one host (politeness; RFC 9309 crawlers use
/// seconds, feeds polled every 15 minutes never notice a few hundred milliseconds).
pub const MIN_HOST_GAP: Duration = Duration::from_millis(250);
/// Most requests in flight at once, across all hosts.
pub const MAX_IN_FLIGHT: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {url}: {reason}")]
    Read { url: String, reason: String },
    #[error("{url}: larger than http.max_download ({limit} bytes)")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: refused by the address guard: {reason}")]
    Blocked { url: String, reason: String },
    #[error("{url}: HTTP {status}{}", .retry_after.map(|s| format!(" (retry after {s}s)")).unwrap_or_default())]
    Status {
        url: String,
        status: u16,
        retry_after: Option<u64>,
    },
    #[error("{url}: timed out (http.timeout)")]
    Timeout { url: String },
    #[error("{url}: {reason}")]
    Network { url: String, reason: String },
    #[error("{url}: unsupported URL scheme")]
    Scheme { url: String },
}

impl Error {
    /// Seconds the server asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Validators from the last successful fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a fetch gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
}

/// Whether a URL is an operator-configured source (fetched as written) or anything else
/// (behind the address guard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Configured,
    Guarded,
}

pub struct Fetcher {
    configured: Client,
    guarded: Client,
    max_download: u64,
    allow_private: bool,
    hosts: Mutex<HashMap<String, Instant>>,
    in_flight: Arc<Semaphore>,
}

fn build(http: &HttpConfig, guarded: bool) -> Result<Client, Error> {
    builder(http, guarded).build().map_err(|e| Error::Network {
        url: String::new(),
        reason: format!("cannot build the HTTP client: {e}"),
    })
}

fn builder(http: &HttpConfig, guarded: bool) -> reqwest::ClientBuilder {
    let mut b = Client::builder()
        .user_agent(http.user_agent.clone())
        .connect_timeout(http.connect_timeout)
        .timeout(http.timeout)
        .no_proxy()
        .gzip(true)
        .brotli(true);
    let max = usize::try_from(http.max_redirects).unwrap_or(5);
    if guarded {
        b =
            b.dns_resolver(Arc::new(guard::GuardResolver))
                .redirect(redirect::Policy::custom(move |attempt| {
                    // `previous` holds every URL asked so far, the first included: `>`
                    // follows `max` redirects, as `Policy::limited(max)` does for sources
                    // (`>=` followed one fewer).
                    if attempt.previous().len() > max {
                        return attempt.error("too many redirects");
                    }
                    match guard::check_url(attempt.url()) {
                        Ok(()) => attempt.follow(),
                        Err(reason) => attempt
                            .error(format!("redirect refused by the address guard: {reason}")),
                    }
                }));
    } else {
        b = b.redirect(redirect::Policy::limited(max));
    }
    b
}

fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    let when =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (when - time::OffsetDateTime::now_utc()).whole_seconds();
    Some(u64::try_from(secs).unwrap_or(0))
}

impl Fetcher {
    pub fn new(http: &HttpConfig) -> Result<Self, Error> {
        Ok(Self {
            configured: build(http, false)?,
            // With allow_private_addresses (tests), the guarded client is a plain one.
            guarded: build(http, !http.allow_private_addresses)?,
            max_download: http.max_download,
            allow_private: http.allow_private_addresses,
            hosts: Mutex::new(HashMap::new()),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// Wait until `host` may be asked again, then claim the slot.
    async fn pace(&self, host: &str) {
        let wait = {
            let Ok(mut hosts) = self.hosts.lock() else {
                return;
            };
            let now = Instant::now();
            let next = hosts.get(host).map_or(now, |t| (*t).max(now));
            hosts.insert(host.to_owned(), next + MIN_HOST_GAP);
            next - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// GET `url`. `file://` URLs are read from disk, only for configured sources.
    pub async fn get(
        &self,
        url: &str,
        trust: Trust,
        validators: &Validators,
    ) -> Result<Fetched, Error> {
        if let Some(path) = file_url_path(url) {
            if trust == Trust::Guarded {
                return Err(Error::Blocked {
                    url: url.to_owned(),
                    reason: "file:// is only allowed for configured sources".into(),
                });
            }
            let bytes = crate::package::read_file_to_cap(&path, self.max_download).map_err(
                |e| match e {
                    crate::package::PackageError::FileTooLarge { .. } => Error::TooLarge {
                        url: url.to_owned(),
                        limit: self.max_download,
                    },
                    other => Error::Read {
                        url: url.to_owned(),
                        reason: other.to_string(),
                    },
                },
            )?;
            return Ok(Fetched::Body {
                bytes,
                validators: Validators::default(),
            });
        }
        let parsed = url::Url::parse(url).map_err(|_| Error::Scheme {
            url: url.to_owned(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Scheme {
                url: url.to_owned(),
            });
        }
        if trust == Trust::Guarded && !self.allow_private {
            guard::check_url(&parsed).map_err(|reason| Error::Blocked {
                url: url.to_owned(),
                reason,
            })?;
        }
        // Pace first, then take an in-flight slot: a task waiting for its host's turn
        // must not hold one of the global slots, or a host with many sources would
        // starve requests to every other host.
        self.pace(parsed.host_str().unwrap_or_default()).await;
        let _permit = self.in_flight.acquire().await.map_err(|e| Error::Network {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let client = match trust {
            Trust::Configured => &self.configured,
            Trust::Guarded => &self.guarded,
        };
        let mut req = client.get(parsed);
        if let Some(etag) = &validators.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let net = |e: reqwest::Error| {
            if e.is_timeout() {
                Error::Timeout {
                    url: url.to_owned(),
                }
            } else {
                // The full chain says what went wrong (refused, DNS, TLS, guard).
                let mut reason = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    reason.push_str(": ");
                    reason.push_str(&s.to_string());
                    src = s.source();
                }
                if reason.contains("address guard") {
                    Error::Blocked {
                        url: url.to_owned(),
                        reason,
                    }
                } else {
                    Error::Network {
                        url: url.to_owned(),
                        reason,
                    }
                }
            }
        };
        let mut resp = req.send().await.map_err(net)?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(Error::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                retry_after: retry_after(resp.headers()),
            });
        }
        let header = |h| {
            resp.headers()
                .get(h)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        if resp.content_length().is_some_and(|n| n > self.max_download) {
            return Err(Error::TooLarge {
                url: url.to_owned(),
                limit: self.max_download,
            });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(net)? {
            if (bytes.len() + chunk.len()) as u64 > self.max_download {
                return Err(Error::TooLarge {
                    url: url.to_owned(),
                    limit: self.max_download,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body { bytes, validators })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// A redirect from an allowed host to a loopback address is refused by the guarded
    /// client's redirect policy. The first hop's name is pinned to loopback (a test-only
    /// override of the resolver) to stand in for a public server.
    #[tokio::test]
    async fn redirects_to_private_addresses_are_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2).flatten() {
                let mut stream = stream;
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf);
                let location = format!("http://127.0.0.1:{}/ca.crt", addr.port());
                let _ = write!(
                    stream,
                    "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
                );
            }
        });
        let http = crate::config::Config::default().http;
        let client = builder(&http, true)
            .resolve("public.example", addr)
            .build()
            .unwrap();
        let err = client
            .get(format!("http://public.example:{}/ca.crt", addr.port()))
            .send()
            .await
            .unwrap_err();
        let chain = format!("{:?}", err);
        assert!(chain.contains("address guard"), "{chain}");
    }

    /// A redirect loop and an endless chain behind the guard stop at `max_redirects`
    /// (the policy counts hops before it re-checks the address), with the reason named.
    #[tokio::test]
    async fn guarded_redirect_loops_stop_at_the_cap() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut stream = stream;
                let mut buf = [0u8; 2048];
                let n = stream.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let next = match path.as_str() {
                    "/a" => "/b".to_owned(),
                    "/b" => "/a".to_owned(),
                    p => format!("{p}x"),
                };
                let location = format!("http://public.example:{}{next}", addr.port());
                let _ = write!(
                    stream,
                    "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        let http = crate::config::Config::default().http;
        let client = builder(&http, true)
            .resolve("public.example", addr)
            .build()
            .unwrap();
        for start in ["/a", "/chain"] {
            let before = served.load(std::sync::atomic::Ordering::SeqCst);
            let err = client
                .get(format!("http://public.example:{}{start}", addr.port()))
                .send()
                .await
                .unwrap_err();
            let chain = format!("{err:?}");
            assert!(chain.contains("too many redirects"), "{start}: {chain}");
            let asked = served.load(std::sync::atomic::Ordering::SeqCst) - before;
            assert_eq!(asked, 1 + http.max_redirects as usize, "{start}");
        }
    }

    #[tokio::test]
    async fn guarded_file_urls_and_literals_are_refused_before_any_request() {
        let http = crate::config::Config::default().http;
        let f = Fetcher::new(&http).unwrap();
        for url in [
            "file:///etc/passwd",
            "http://127.0.0.1:1/x",
            "http://localhost:1/x",
            "http://[::1]:1/x",
        ] {
            let r = f.get(url, Trust::Guarded, &Validators::default()).await;
            assert!(matches!(r, Err(Error::Blocked { .. })), "{url}: {r:?}");
        }
    }
}
