//! Configuration (CONTRACT §4): read once from TOML into validated types.
//!
//! Two stages: a serde mirror with `deny_unknown_fields` everywhere (so an unknown key
//! is an error naming the key and its line), then validation into the types below,
//! collecting every problem before failing.
//!
//! - `config/raw.rs`: the serde mirror and the line/column of toml errors.
//! - `config/validate.rs`: raw -> [`Config`], every problem with key path and line.
//! - `config/types.rs`: value syntaxes (durations, sizes, snowflakes, URLs).
//!
//! Invariants: a [`Config`] value is always valid (only [`Config::parse`] and
//! [`Config::default`] make one); no secret is ever held here, only the *name* of the
//! environment variable that holds the Discord token; relative paths (`store.path`,
//! `file://` sources) are relative to the current directory, not to the config file.

mod raw;
#[cfg(test)]
mod tests;
mod types;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::advisory::FindingKind;

/// Why a config could not be loaded. Each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    /// One or more problems, each naming the key and line
    /// (`line 12, column 12: vendor[0].feed[1].interval: ...`).
    #[error("invalid config {path}:\n{}", .problems.join("\n"))]
    Invalid { path: String, problems: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub store: StoreConfig,
    pub http: HttpConfig,
    pub verify: VerifyConfig,
    pub poll: PollConfig,
    pub chat: ChatConfig,
    pub vendors: Vec<Vendor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Relative paths are relative to the current directory.
    pub path: PathBuf,
    /// sled page cache (`cache`, default 64MiB).
    pub cache: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub allow_private_addresses: bool,
    pub max_download: u64,
    pub max_redirects: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyConfig {
    pub max_entry: u64,
    pub max_total: u64,
    pub max_entries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollConfig {
    pub backfill: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatConfig {
    /// Finding kinds posted to chat sinks (`chat.notify`, default every kind); the
    /// others are recorded and counted as `filtered`.
    pub notify: Vec<FindingKind>,
    pub discord: Option<DiscordConfig>,
    /// `[[chat.webhook]]`: Slack-compatible incoming webhooks.
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            notify: FindingKind::ALL.to_vec(),
            discord: None,
            webhooks: Vec::new(),
        }
    }
}

/// A Slack-compatible incoming webhook (Slack, Mattermost, Teams workflows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Unique; the sink is `webhook:<name>`.
    pub name: String,
    /// Name of the environment variable holding the URL (the URL is a secret).
    pub url_env: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordConfig {
    /// Name of the environment variable holding the bot token (never the token).
    pub token_env: String,
    pub channel_id: u64,
    pub approver_role_id: u64,
    pub guild_id: Option<u64>,
    pub application_id: Option<u64>,
    pub api_base: String,
    pub interactions_public_key: Option<String>,
    pub interactions_listen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    pub name: String,
    pub contact: Option<String>,
    pub advisory_url: Option<String>,
    pub feeds: Vec<FeedSource>,
    pub pages: Vec<PageSource>,
}

/// A feed source (RSS 0.9x/1.0/2.0, Atom, JSON Feed).
///
/// `url` is `http://`, `https://` or `file://` with the scheme in lower case; see
/// [`file_url_path`] for how `file://` URLs map to paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSource {
    pub url: String,
    pub interval: Duration,
}

/// An HTML page or forum thread; `url` as for [`FeedSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSource {
    pub url: String,
    pub item_selector: String,
    pub next_selector: Option<String>,
    /// Pages followed through `next_selector` per poll, the first included (default 10).
    pub max_pages: u32,
    pub interval: Duration,
}

impl FeedSource {
    /// `interval` when absent: often enough for advisories, polite to vendors.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);
}

impl PageSource {
    /// `interval` when absent: pages are heavier to fetch than feeds.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60 * 60);
    /// `max_pages` when absent.
    pub const DEFAULT_MAX_PAGES: u32 = 10;
}

impl Default for Config {
    fn default() -> Self {
        Self {
            store: StoreConfig {
                path: PathBuf::from("data"),
                cache: 64 << 20,
            },
            http: HttpConfig {
                user_agent: concat!("trustwatch/", env!("CARGO_PKG_VERSION")).into(),
                timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(10),
                allow_private_addresses: false,
                max_download: 64 << 20,
                max_redirects: 5,
            },
            verify: VerifyConfig {
                max_entry: 16 << 30,
                max_total: 64 << 30,
                max_entries: 100_000,
            },
            poll: PollConfig {
                backfill: Duration::from_secs(90 * 86_400),
            },
            chat: ChatConfig::default(),
            vendors: Vec::new(),
        }
    }
}

impl Config {
    /// Load and validate a config file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
            path: path.display().to_string(),
            reason: read_reason(&e),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Load `path`, or the built-in defaults when the user did not name a config
    /// (`explicit == false`: neither `--config` nor `TRUSTWATCH_CONFIG`) and the default
    /// path does not exist. A file the user named must exist.
    pub fn load_or_default(path: &Path, explicit: bool) -> Result<Self, Error> {
        if !explicit && !path.try_exists().unwrap_or(true) {
            return Ok(Self::default());
        }
        Self::load(path)
    }

    /// Parse and validate TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let invalid = |problems| Error::Invalid {
            path: origin.to_owned(),
            problems,
        };
        let raw = raw::parse_raw(text).map_err(|problem| invalid(vec![problem]))?;
        validate::validate(text, raw).map_err(invalid)
    }

    /// The sled directory: `cli_override` (`--data-dir` or `TRUSTWATCH_DATA_DIR`, which
    /// the CLI resolves) first, then `store.path`, whose default is `./data`.
    pub fn data_dir(&self, cli_override: Option<&Path>) -> PathBuf {
        cli_override.map_or_else(|| self.store.path.clone(), Path::to_path_buf)
    }

    pub fn vendor(&self, name: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.name == name)
    }
}

/// The local path of a `file://` source URL, or `None` for any other scheme.
///
/// Everything after `file://` is the path, taken as written: `file:///var/mirror/a.xml`
/// is absolute, and `file://config/examples/dten/advisories.xml` is relative to the
/// current directory (a trustwatch convention for offline use; RFC 8089 would read
/// `config` as a host). No percent-decoding is done.
pub fn file_url_path(url: &str) -> Option<PathBuf> {
    let (scheme, path) = (url.get(..7)?, url.get(7..)?);
    scheme
        .eq_ignore_ascii_case("file://")
        .then(|| PathBuf::from(path))
}

/// An I/O error as a sentence that says what to do.
fn read_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file; pass an existing file with --config \
            (or TRUSTWATCH_CONFIG), or leave both unset to use the built-in defaults"
            .to_owned(),
        std::io::ErrorKind::InvalidData => {
            "the file is not UTF-8 text; save it as UTF-8".to_owned()
        }
        _ => format!("{err}; check the path and its permissions"),
    }
}
