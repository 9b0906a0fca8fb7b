//! The serde mirror of the config file: every table denies unknown fields (so a typo is
//! an error naming the key and its line), and every value that is validated later keeps
//! its span so that error can name the line too.

use serde::Deserialize;
use toml::Spanned;

pub(super) type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub verify: RawVerify,
    #[serde(default)]
    pub poll: RawPoll,
    #[serde(default)]
    pub chat: RawChat,
    #[serde(default)]
    pub vendor: Vec<RawVendor>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub path: Option<S<String>>,
    pub cache: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub user_agent: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub connect_timeout: Option<S<String>>,
    pub allow_private_addresses: Option<bool>,
    pub max_download: Option<S<String>>,
    pub max_redirects: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVerify {
    pub max_entry: Option<S<String>>,
    pub max_total: Option<S<String>>,
    pub max_entries: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPoll {
    pub backfill: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChat {
    pub discord: Option<RawDiscord>,
}

/// A Discord id written as an integer or a string of digits.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSnowflake {
    Int(i64),
    Str(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiscord {
    pub token_env: S<String>,
    pub channel_id: S<RawSnowflake>,
    pub approver_role_id: S<RawSnowflake>,
    pub guild_id: Option<S<RawSnowflake>>,
    pub application_id: Option<S<RawSnowflake>>,
    pub api_base: Option<S<String>>,
    pub interactions_public_key: Option<S<String>>,
    pub interactions_listen: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVendor {
    pub name: S<String>,
    pub contact: Option<String>,
    pub advisory_url: Option<S<String>>,
    #[serde(default)]
    pub feed: Vec<RawFeed>,
    #[serde(default)]
    pub page: Vec<RawPage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    pub url: S<String>,
    pub interval: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPage {
    pub url: S<String>,
    pub item_selector: S<String>,
    pub next_selector: Option<S<String>>,
    pub max_pages: Option<S<i64>>,
    pub interval: Option<S<String>>,
}
