//! Configuration (CONTRACT §4): read once from TOML into validated types.
//!
//! Two stages: a serde mirror with `deny_unknown_fields` everywhere (so an unknown key
//! is an error naming the key and its line), then validation into the types below,
//! collecting every problem before failing.

mod raw;
pub mod types;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    /// One or more problems, each naming the key and line.
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

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatConfig {
    pub discord: Option<DiscordConfig>,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSource {
    pub url: String,
    pub interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSource {
    pub url: String,
    pub item_selector: String,
    pub next_selector: Option<String>,
    pub max_pages: u32,
    pub interval: Duration,
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
            reason: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse and validate TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let raw: raw::Raw = toml::from_str(text).map_err(|e| Error::Invalid {
            path: origin.to_owned(),
            problems: vec![e.to_string().trim_end().to_owned()],
        })?;
        validate::validate(raw, text).map_err(|problems| Error::Invalid {
            path: origin.to_owned(),
            problems,
        })
    }

    pub fn vendor(&self, name: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> String {
        match Config::parse(text, "test.toml") {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted: {c:?}"),
        }
    }

    #[test]
    fn the_reference_file_loads() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/trustwatch.toml"
        ));
        let c = Config::parse(text, "config/trustwatch.toml").unwrap();
        assert_eq!(c.store.path, PathBuf::from("data"));
        assert_eq!(c.http.max_download, 64 << 20);
        assert_eq!(c.verify.max_entry, 16 << 30);
        assert_eq!(c.poll.backfill, Duration::from_secs(90 * 86_400));
        assert!(c.chat.discord.is_none());
        let dten = c.vendor("dten").unwrap();
        assert_eq!(dten.contact.as_deref(), Some("security@dten.example"));
        assert_eq!(dten.feeds[0].interval, Duration::from_secs(900));
        assert_eq!(dten.pages[0].item_selector, "article.post");
        assert_eq!(dten.pages[0].max_pages, 10);
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::parse("", "x").unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let e = problems("[store]\npath = \"d\"\ncolour = \"blue\"\n");
        assert!(
            e.contains("unknown field `colour`") && e.contains("line 3"),
            "{e}"
        );
        let e = problems("verbose = true\n");
        assert!(
            e.contains("unknown field `verbose`") && e.contains("line 1"),
            "{e}"
        );
        let e = problems("[[vendor]]\nname = \"dten\"\n[[vendor.feed]]\nurl = \"https://x/feed\"\nintervall = \"5m\"\n");
        assert!(
            e.contains("unknown field `intervall`") && e.contains("line 5"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_all_reported_with_key_and_line() {
        let e = problems(
            "[http]\ntimeout = \"5 minutes\"\nmax_download = \"lots\"\n[verify]\nmax_entries = -1\n[[vendor]]\nname = \"DTEN Inc\"\n[[vendor.feed]]\nurl = \"ftp://x\"\n[[vendor]]\nname = \"acme\"\n[[vendor]]\nname = \"acme\"\n",
        );
        for want in [
            "http.timeout (line 2)",
            "http.max_download (line 3)",
            "verify.max_entries (line 5)",
            "vendor[0].name (line 7)",
            "vendor[0].feed[0].url (line 9)",
            "vendor[2].name (line 13)",
        ] {
            assert!(e.contains(want), "missing {want} in {e}");
        }
    }

    #[test]
    fn discord_section() {
        let ok = "[chat.discord]\ntoken_env = \"DISCORD_TOKEN\"\nchannel_id = \"123456789012345678\"\napprover_role_id = 234567890123456789\napi_base = \"http://127.0.0.1:9999\"\ninteractions_public_key = \"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"\ninteractions_listen = \"127.0.0.1:8080\"\n";
        let d = Config::parse(ok, "x").unwrap().chat.discord.unwrap();
        assert_eq!(d.channel_id, 123_456_789_012_345_678);
        assert_eq!(d.approver_role_id, 234_567_890_123_456_789);
        assert_eq!(d.api_base, "http://127.0.0.1:9999");
        let token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB";
        let e = problems(&format!(
            "[chat.discord]\ntoken_env = \"{token}\"\nchannel_id = 1\napprover_role_id = 2\n"
        ));
        assert!(
            e.contains("looks like a bot token") && !e.contains(token),
            "{e}"
        );
        let e = problems("[chat.discord]\ntoken_env = \"T\"\nchannel_id = \"abc\"\napprover_role_id = 2\ninteractions_listen = \"nowhere\"\n");
        assert!(
            e.contains("channel_id (line 3)") && e.contains("interactions_listen (line 5)"),
            "{e}"
        );
    }
}
