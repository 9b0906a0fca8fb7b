//! From the raw mirror to validated types, collecting every problem (key and line)
//! before failing, so one run shows the operator everything to fix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{Raw, RawSnowflake, S};
use super::types::{parse_duration, parse_size};
use super::{ChatConfig, Config, DiscordConfig, FeedSource, PageSource, Vendor};

struct Check<'a> {
    text: &'a str,
    problems: Vec<String>,
}

impl Check<'_> {
    fn line<T>(&self, v: &S<T>) -> usize {
        let end = v.span().start.min(self.text.len());
        self.text[..end].matches('\n').count() + 1
    }

    fn problem<T>(&mut self, key: &str, v: &S<T>, msg: impl std::fmt::Display) {
        let line = self.line(v);
        self.problems.push(format!("{key} (line {line}): {msg}"));
    }

    fn duration(&mut self, key: &str, v: Option<&S<String>>, default: Duration) -> Duration {
        let Some(v) = v else { return default };
        match parse_duration(v.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.problem(key, v, "must be longer than zero");
                default
            }
            Ok(d) => d,
            Err(e) => {
                self.problem(key, v, e);
                default
            }
        }
    }

    fn size(&mut self, key: &str, v: Option<&S<String>>, default: u64) -> u64 {
        let Some(v) = v else { return default };
        match parse_size(v.get_ref()) {
            Ok(0) => {
                self.problem(key, v, "must be larger than zero");
                default
            }
            Ok(n) => n,
            Err(e) => {
                self.problem(key, v, e);
                default
            }
        }
    }

    fn positive(&mut self, key: &str, v: Option<&S<i64>>, default: u64) -> u64 {
        let Some(v) = v else { return default };
        match u64::try_from(*v.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                self.problem(key, v, "must be a positive whole number");
                default
            }
        }
    }

    fn url(&mut self, key: &str, v: &S<String>, schemes: &[&str]) -> String {
        let u = v.get_ref().trim();
        let ok = schemes.iter().any(|s| {
            u.strip_prefix(s)
                .and_then(|rest| rest.strip_prefix("://"))
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
        });
        if !ok {
            self.problem(
                key,
                v,
                format!("{u:?} is not a URL with scheme {}", schemes.join(", ")),
            );
        }
        u.to_owned()
    }

    fn snowflake(&mut self, key: &str, v: &S<RawSnowflake>) -> u64 {
        let n = match v.get_ref() {
            RawSnowflake::Int(i) => u64::try_from(*i).ok(),
            RawSnowflake::Str(s) => s.trim().parse::<u64>().ok(),
        };
        match n {
            Some(n) if n > 0 => n,
            _ => {
                self.problem(
                    key,
                    v,
                    "must be a Discord id (digits, from Developer Mode > Copy ID)",
                );
                0
            }
        }
    }
}

pub(super) fn validate(raw: Raw, text: &str) -> Result<Config, Vec<String>> {
    let mut c = Check {
        text,
        problems: Vec::new(),
    };
    let d = Config::default();
    let mut cfg = Config::default();

    if let Some(p) = &raw.store.path {
        if p.get_ref().trim().is_empty() {
            c.problem("store.path", p, "must not be empty");
        }
        cfg.store.path = PathBuf::from(p.get_ref());
    }
    cfg.store.cache = c.size("store.cache", raw.store.cache.as_ref(), d.store.cache);

    if let Some(ua) = &raw.http.user_agent {
        if ua.get_ref().trim().is_empty() {
            c.problem("http.user_agent", ua, "must not be empty");
        }
        cfg.http.user_agent = ua.get_ref().clone();
    }
    cfg.http.timeout = c.duration("http.timeout", raw.http.timeout.as_ref(), d.http.timeout);
    cfg.http.connect_timeout = c.duration(
        "http.connect_timeout",
        raw.http.connect_timeout.as_ref(),
        d.http.connect_timeout,
    );
    cfg.http.allow_private_addresses = raw.http.allow_private_addresses.unwrap_or(false);
    cfg.http.max_download = c.size(
        "http.max_download",
        raw.http.max_download.as_ref(),
        d.http.max_download,
    );
    cfg.http.max_redirects = u32::try_from(c.positive(
        "http.max_redirects",
        raw.http.max_redirects.as_ref(),
        u64::from(d.http.max_redirects),
    ))
    .unwrap_or(d.http.max_redirects);

    cfg.verify.max_entry = c.size(
        "verify.max_entry",
        raw.verify.max_entry.as_ref(),
        d.verify.max_entry,
    );
    cfg.verify.max_total = c.size(
        "verify.max_total",
        raw.verify.max_total.as_ref(),
        d.verify.max_total,
    );
    cfg.verify.max_entries = c.positive(
        "verify.max_entries",
        raw.verify.max_entries.as_ref(),
        d.verify.max_entries,
    );
    cfg.poll.backfill = c.duration("poll.backfill", raw.poll.backfill.as_ref(), d.poll.backfill);

    if let Some(dc) = &raw.chat.discord {
        let token_env = dc.token_env.get_ref().trim().to_owned();
        let env_like = !token_env.is_empty()
            && token_env
                .chars()
                .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_')
            && !token_env.starts_with(|ch: char| ch.is_ascii_digit());
        if token_env.contains('.') && token_env.len() > 50 {
            c.problem(
                "chat.discord.token_env",
                &dc.token_env,
                "looks like a bot token: never put the token in the config; set token_env = \"DISCORD_TOKEN\" and export the token in that variable",
            );
        } else if !env_like {
            c.problem(
                "chat.discord.token_env",
                &dc.token_env,
                "must name an environment variable, like DISCORD_TOKEN",
            );
        }
        let api_base = match &dc.api_base {
            Some(v) => c.url("chat.discord.api_base", v, &["https", "http"]),
            None => "https://discord.com".to_owned(),
        };
        if let Some(k) = &dc.interactions_public_key {
            let key = k.get_ref().trim();
            if key.len() != 64 || !key.chars().all(|ch| ch.is_ascii_hexdigit()) {
                c.problem(
                    "chat.discord.interactions_public_key",
                    k,
                    "must be 64 hex digits (the application's public key)",
                );
            }
        }
        if let Some(l) = &dc.interactions_listen {
            if l.get_ref().parse::<SocketAddr>().is_err() {
                c.problem(
                    "chat.discord.interactions_listen",
                    l,
                    "must be an address like 127.0.0.1:8080",
                );
            }
        }
        cfg.chat = ChatConfig {
            discord: Some(DiscordConfig {
                token_env,
                channel_id: c.snowflake("chat.discord.channel_id", &dc.channel_id),
                approver_role_id: c
                    .snowflake("chat.discord.approver_role_id", &dc.approver_role_id),
                guild_id: dc
                    .guild_id
                    .as_ref()
                    .map(|g| c.snowflake("chat.discord.guild_id", g)),
                application_id: dc
                    .application_id
                    .as_ref()
                    .map(|a| c.snowflake("chat.discord.application_id", a)),
                api_base,
                interactions_public_key: dc
                    .interactions_public_key
                    .as_ref()
                    .map(|k| k.get_ref().trim().to_ascii_lowercase()),
                interactions_listen: dc.interactions_listen.as_ref().map(|l| l.get_ref().clone()),
            }),
        };
    }

    let sources = ["https", "http", "file"];
    for (i, v) in raw.vendor.iter().enumerate() {
        let key = format!("vendor[{i}]");
        let name = v.name.get_ref().trim().to_owned();
        if name.is_empty()
            || !name.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
            })
        {
            c.problem(
                &format!("{key}.name"),
                &v.name,
                "must be lowercase letters, digits, '.', '_' or '-'",
            );
        }
        if cfg.vendors.iter().any(|o: &Vendor| o.name == name) {
            c.problem(
                &format!("{key}.name"),
                &v.name,
                format!("vendor {name:?} is configured twice"),
            );
        }
        let advisory_url = v
            .advisory_url
            .as_ref()
            .map(|u| c.url(&format!("{key}.advisory_url"), u, &["https", "http"]));
        let feeds = v
            .feed
            .iter()
            .enumerate()
            .map(|(j, f)| FeedSource {
                url: c.url(&format!("{key}.feed[{j}].url"), &f.url, &sources),
                interval: c.duration(
                    &format!("{key}.feed[{j}].interval"),
                    f.interval.as_ref(),
                    Duration::from_secs(15 * 60),
                ),
            })
            .collect();
        let pages = v
            .page
            .iter()
            .enumerate()
            .map(|(j, p)| {
                if p.item_selector.get_ref().trim().is_empty() {
                    c.problem(
                        &format!("{key}.page[{j}].item_selector"),
                        &p.item_selector,
                        "must be a CSS selector, like \"article.post\"",
                    );
                }
                PageSource {
                    url: c.url(&format!("{key}.page[{j}].url"), &p.url, &sources),
                    item_selector: p.item_selector.get_ref().clone(),
                    next_selector: p.next_selector.as_ref().map(|n| n.get_ref().clone()),
                    max_pages: u32::try_from(c.positive(
                        &format!("{key}.page[{j}].max_pages"),
                        p.max_pages.as_ref(),
                        10,
                    ))
                    .unwrap_or(10),
                    interval: c.duration(
                        &format!("{key}.page[{j}].interval"),
                        p.interval.as_ref(),
                        Duration::from_secs(3600),
                    ),
                }
            })
            .collect();
        cfg.vendors.push(Vendor {
            name,
            contact: v.contact.clone(),
            advisory_url,
            feeds,
            pages,
        });
    }

    if c.problems.is_empty() {
        Ok(cfg)
    } else {
        Err(c.problems)
    }
}
