//! Stage two of config loading: the raw serde mirror becomes the validated [`Config`].
//!
//! Invariants: every problem is collected (never stop at the first); each names its key
//! path (`vendor[0].feed[1].interval`) and, when the value was written in the file, its
//! line and column; each says what to write instead. An absent key takes its default
//! from [`Config::default`], the `DEFAULT_*` constants or the sources' associated
//! constants (`FeedSource::DEFAULT_INTERVAL`...). Values that may be
//! secrets (`token_env`) are never echoed.

use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::{Spanned, Value};

mod chat;
mod vendors;

use super::raw::{location, Leaf, RawConfig, RawDiscord, RawHttp, RawPoll, RawStore, RawVerify};
use super::types::{
    check_token_env, check_url, parse_duration, parse_size_value, parse_snowflake, Schemes,
};
use super::{Config, DiscordConfig, HttpConfig, PollConfig, StoreConfig, VerifyConfig};

/// Highest `http.max_redirects`: browsers give up after 20 (Fetch standard, "HTTP-redirect
/// fetch"); a chain longer than that is a loop or an attack, not a mirror.
const MAX_REDIRECTS_LIMIT: i64 = 20;
/// `chat.discord.token_env` when absent.
pub(crate) const DEFAULT_TOKEN_ENV: &str = "DISCORD_TOKEN";
/// `chat.discord.api_base` when absent.
pub(crate) const DEFAULT_API_BASE: &str = "https://discord.com";

const DURATION_EXAMPLE: &str = "write durations like \"15m\", \"1h\" or \"90d\"";
const SIZE_EXAMPLE: &str = "write sizes like \"64MiB\" or \"16GiB\"";

/// Validate `raw` (parsed from `text`, which gives line numbers) into a [`Config`], or
/// every problem found.
pub(crate) fn validate(text: &str, raw: RawConfig) -> Result<Config, Vec<String>> {
    let mut check = Checker {
        text,
        problems: Vec::new(),
    };
    let defaults = Config::default();
    let config = Config {
        store: check.store(raw.store.unwrap_or_default(), defaults.store),
        http: check.http(raw.http.unwrap_or_default(), defaults.http),
        verify: check.verify(raw.verify.unwrap_or_default(), defaults.verify),
        poll: check.poll(raw.poll.unwrap_or_default(), defaults.poll),
        chat: check.chat(raw.chat),
        vendors: check.vendors(&raw.vendor),
    };
    if check.problems.is_empty() {
        Ok(config)
    } else {
        Err(check.problems)
    }
}

struct Checker<'t> {
    text: &'t str,
    problems: Vec<String>,
}

/// The value's type, for "expected a string, found an integer".
fn found(value: &Value) -> String {
    let kind = value.type_str();
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("found {article} {kind}")
}

fn expect_str<'v>(value: &'v Value, what: &str) -> Result<&'v str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected {what} in quotes, {}", found(value)))
}

impl Checker<'_> {
    /// Record a problem: `line N, column M: path: message`.
    fn report(&mut self, path: &str, span: Option<&Range<usize>>, message: impl Display) {
        let problem = match span {
            Some(span) => format!("{}: {path}: {message}", location(self.text, span.start)),
            None => format!("{path}: {message}"),
        };
        self.problems.push(problem);
    }

    /// Run `parse` on a present leaf; on error record it at the leaf's position.
    fn leaf<T>(
        &mut self,
        path: &str,
        leaf: &Leaf,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let leaf = leaf.as_ref()?;
        match parse(leaf.get_ref()) {
            Ok(value) => Some(value),
            Err(message) => {
                self.report(path, Some(&leaf.span()), message);
                None
            }
        }
    }

    fn duration(&mut self, path: &str, leaf: &Leaf, positive: bool) -> Option<Duration> {
        self.leaf(path, leaf, |value| {
            let text = value.as_str().ok_or_else(|| {
                format!(
                    "expected a duration in quotes, {}; {DURATION_EXAMPLE}",
                    found(value)
                )
            })?;
            let duration = parse_duration(text)?;
            if positive && duration.is_zero() {
                return Err(format!("must be longer than zero; {DURATION_EXAMPLE}"));
            }
            Ok(duration)
        })
    }

    fn size(&mut self, path: &str, leaf: &Leaf) -> Option<u64> {
        self.leaf(path, leaf, |value| {
            let size = parse_size_value(value)?;
            if size == 0 {
                return Err(format!("must be larger than zero; {SIZE_EXAMPLE}"));
            }
            Ok(size)
        })
    }

    /// A whole number in `min..=max`; `max == i64::MAX` means "no upper limit".
    fn integer(&mut self, path: &str, leaf: &Leaf, min: i64, max: i64) -> Option<i64> {
        let range = if max == i64::MAX {
            format!("a whole number of at least {min}")
        } else {
            format!("a whole number from {min} to {max}")
        };
        self.leaf(path, leaf, |value| {
            let n = value
                .as_integer()
                .ok_or_else(|| format!("expected {range}, {}", found(value)))?;
            if (min..=max).contains(&n) {
                Ok(n)
            } else {
                Err(format!("{n} is out of range; use {range}"))
            }
        })
    }

    fn boolean(&mut self, path: &str, leaf: &Leaf) -> Option<bool> {
        self.leaf(path, leaf, |value| {
            value
                .as_bool()
                .ok_or_else(|| format!("expected true or false (no quotes), {}", found(value)))
        })
    }

    /// A string that must not be empty (after trimming) nor hold control characters.
    fn text(&mut self, path: &str, leaf: &Leaf, what: &str) -> Option<String> {
        self.leaf(path, leaf, |value| {
            let text = expect_str(value, what)?;
            if text.trim().is_empty() {
                return Err(format!("must not be empty; write {what} or remove the key"));
            }
            if text.chars().any(char::is_control) {
                return Err(format!(
                    "contains control characters; write {what} on one line"
                ));
            }
            Ok(text.to_owned())
        })
    }

    fn url(&mut self, path: &str, leaf: &Leaf, schemes: Schemes) -> Option<String> {
        self.leaf(path, leaf, |value| {
            check_url(expect_str(value, "a URL")?, schemes)
        })
    }

    fn snowflake(&mut self, path: &str, leaf: &Leaf) -> Option<u64> {
        self.leaf(path, leaf, parse_snowflake)
    }

    /// A required key that is absent: reported at its table's header.
    fn missing(&mut self, path: &str, table: &Range<usize>, what: &str) {
        self.report(path, Some(table), format!("missing; {what}"));
    }

    fn store(&mut self, raw: RawStore, default: StoreConfig) -> StoreConfig {
        StoreConfig {
            path: self
                .text("store.path", &raw.path, "a directory such as \"data\"")
                .map_or(default.path, PathBuf::from),
            cache: self
                .size("store.cache", &raw.cache)
                .unwrap_or(default.cache),
        }
    }

    fn http(&mut self, raw: RawHttp, default: HttpConfig) -> HttpConfig {
        let user_agent = self.text(
            "http.user_agent",
            &raw.user_agent,
            "a user agent such as \"trustwatch/0.1 (+mailto:ops@example.com)\"",
        );
        HttpConfig {
            user_agent: user_agent.unwrap_or(default.user_agent),
            timeout: self
                .duration("http.timeout", &raw.timeout, true)
                .unwrap_or(default.timeout),
            connect_timeout: self
                .duration("http.connect_timeout", &raw.connect_timeout, true)
                .unwrap_or(default.connect_timeout),
            allow_private_addresses: self
                .boolean("http.allow_private_addresses", &raw.allow_private_addresses)
                .unwrap_or(default.allow_private_addresses),
            max_download: self
                .size("http.max_download", &raw.max_download)
                .unwrap_or(default.max_download),
            max_redirects: self
                .integer(
                    "http.max_redirects",
                    &raw.max_redirects,
                    0,
                    MAX_REDIRECTS_LIMIT,
                )
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(default.max_redirects),
        }
    }

    fn verify(&mut self, raw: RawVerify, default: VerifyConfig) -> VerifyConfig {
        let max_entry = self.size("verify.max_entry", &raw.max_entry);
        let max_total = self.size("verify.max_total", &raw.max_total);
        let config = VerifyConfig {
            max_entry: max_entry.unwrap_or(default.max_entry),
            max_total: max_total.unwrap_or(default.max_total),
            max_entries: self
                .integer("verify.max_entries", &raw.max_entries, 1, i64::MAX)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(default.max_entries),
        };
        if config.max_entry > config.max_total {
            // Point at whichever of the two was written (max_entry first).
            let span = raw
                .max_entry
                .as_ref()
                .or(raw.max_total.as_ref())
                .map(Spanned::span);
            self.report(
                "verify.max_entry",
                span.as_ref(),
                format!(
                    "{} bytes is larger than verify.max_total ({} bytes); one entry cannot exceed \
                     the whole package, so lower max_entry or raise max_total",
                    config.max_entry, config.max_total
                ),
            );
        }
        config
    }

    fn poll(&mut self, raw: RawPoll, default: PollConfig) -> PollConfig {
        PollConfig {
            backfill: self
                .duration("poll.backfill", &raw.backfill, false)
                .unwrap_or(default.backfill),
        }
    }

    fn discord(&mut self, raw: &Spanned<RawDiscord>) -> Option<DiscordConfig> {
        let table = raw.span();
        let raw = raw.get_ref();
        let count = self.problems.len();
        let token_env = self
            .leaf("chat.discord.token_env", &raw.token_env, |value| {
                let name = expect_str(value, "the name of an environment variable")?;
                check_token_env(name).map(|()| name.to_owned())
            })
            .unwrap_or_else(|| DEFAULT_TOKEN_ENV.to_owned());
        let channel_id = self.snowflake("chat.discord.channel_id", &raw.channel_id);
        if raw.channel_id.is_none() {
            self.missing(
                "chat.discord.channel_id",
                &table,
                "set the id of the channel where findings are posted",
            );
        }
        let approver_role_id =
            self.snowflake("chat.discord.approver_role_id", &raw.approver_role_id);
        if raw.approver_role_id.is_none() {
            self.missing(
                "chat.discord.approver_role_id",
                &table,
                "set the id of the role whose members may approve and revoke anchors",
            );
        }
        let guild_id = self.snowflake("chat.discord.guild_id", &raw.guild_id);
        let application_id = self.snowflake("chat.discord.application_id", &raw.application_id);
        let api_base = self
            .url("chat.discord.api_base", &raw.api_base, Schemes::Http)
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        let public_key =
            self.leaf(
                "chat.discord.interactions_public_key",
                &raw.interactions_public_key,
                |value| {
                    let key = expect_str(value, "a hex public key")?;
                    if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
                        Ok(key.to_ascii_lowercase())
                    } else {
                        Err("must be 64 hex characters: copy \"Public Key\" from the application's \
                         General Information page in the Discord developer portal"
                        .to_owned())
                    }
                },
            );
        let listen = self.leaf(
            "chat.discord.interactions_listen",
            &raw.interactions_listen,
            |value| {
                let addr = expect_str(value, "an address like \"127.0.0.1:8080\"")?;
                addr.parse::<SocketAddr>().map(|_| addr.to_owned()).map_err(|_| {
                    format!("{addr:?} is not an address and port; write one like \"127.0.0.1:8080\" or \"[::]:8080\"")
                })
            },
        );
        match (&raw.interactions_public_key, &raw.interactions_listen) {
            (Some(_), None) => self.missing(
                "chat.discord.interactions_listen",
                &table,
                "the HTTP interactions endpoint needs an address to listen on, e.g. \"127.0.0.1:8080\"",
            ),
            (None, Some(listen)) => self.report(
                "chat.discord.interactions_listen",
                Some(&listen.span()),
                "is only used with interactions_public_key; set the key too, or remove this line to use the gateway",
            ),
            _ => {}
        }
        if self.problems.len() > count {
            return None;
        }
        Some(DiscordConfig {
            token_env,
            channel_id: channel_id?,
            approver_role_id: approver_role_id?,
            guild_id,
            application_id,
            api_base,
            interactions_public_key: public_key,
            interactions_listen: listen,
        })
    }
}
