//! Value syntaxes of the configuration (CONTRACT §4): durations (`"1h30m"`), byte sizes
//! (`"64MiB"`), Discord snowflakes, source URLs and environment variable names.
//!
//! Every parser here is pure and returns a message that says what to write instead; the
//! caller (`validate.rs`) prefixes it with the key path and line. Invariants: no parser
//! panics or overflows on any input, and no message repeats a value that might be a
//! secret (see [`check_token_env`]).

use std::time::Duration;

/// Longest accepted duration: 100 years. Longer values are almost certainly typos, and
/// adding them to an `Instant` (as timers do) could overflow and panic.
pub(crate) const MAX_DURATION_SECS: u64 = 36_500 * 86_400;

const DURATION_HINT: &str = "write durations like \"30s\", \"15m\", \"1h\", \"90d\" or \"1h30m\"";
const SIZE_HINT: &str =
    "write sizes like \"512KiB\", \"64MiB\", \"16GiB\", \"100kB\", \"10MB\" or a plain number of bytes";

/// Parse a duration such as `"30s"`, `"15m"`, `"1h"`, `"90d"` or `"1h30m"`.
///
/// Units are `d`, `h`, `m`, `s`, each at most once and largest first. Zero (`"0s"`) is
/// accepted here; keys that need a positive duration check that themselves.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err(format!("empty duration; {DURATION_HINT}"));
    }
    if text.starts_with('-') {
        return Err(format!("negative duration {text:?}; {DURATION_HINT}"));
    }
    let mut total: u64 = 0;
    let mut rest = text;
    // Rank of the previous unit, so each unit appears once and largest first.
    let mut last_rank: Option<u8> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration (expected a number at {rest:?}); {DURATION_HINT}"
            ));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        let (rank, scale) = match unit {
            "d" => (0, 86_400),
            "h" => (1, 3_600),
            "m" => (2, 60),
            "s" => (3, 1),
            "" if after.starts_with(['.', ',']) => {
                return Err(format!(
                    "{text:?}: fractions are not accepted, use a smaller unit (\"90m\", not \"1.5h\"); {DURATION_HINT}"
                ))
            }
            "" => {
                return Err(format!(
                    "{text:?} has a number without a unit; {DURATION_HINT}"
                ))
            }
            other => {
                return Err(format!(
                    "unknown duration unit {other:?} in {text:?} (units are d, h, m, s); {DURATION_HINT}"
                ))
            }
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(format!(
                "{text:?} repeats a unit or lists them out of order (largest first, each once); {DURATION_HINT}"
            ));
        }
        last_rank = Some(rank);
        let too_long = || {
            format!(
                "duration {text:?} is too long (the limit is 36500d, 100 years); {DURATION_HINT}"
            )
        };
        let value: u64 = number.parse().map_err(|_| too_long())?;
        total = value
            .checked_mul(scale)
            .and_then(|secs| total.checked_add(secs))
            .filter(|secs| *secs <= MAX_DURATION_SECS)
            .ok_or_else(too_long)?;
        rest = after;
    }
    Ok(Duration::from_secs(total))
}

/// Parse a byte size: `"1024"` (bytes), `"512B"`, decimal `kB`/`MB`/`GB`/`TB` (powers of
/// 1000) or binary `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024). Units are matched without
/// regard to case; one space between number and unit is allowed.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("empty size; {SIZE_HINT}"));
    }
    if trimmed.starts_with('-') {
        return Err(format!("negative size {text:?}; {SIZE_HINT}"));
    }
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("{text:?} is not a size; {SIZE_HINT}"));
    }
    let (number, unit) = trimmed.split_at(digits);
    let unit = unit.strip_prefix(' ').unwrap_or(unit);
    if unit.starts_with('.') || unit.starts_with(',') {
        return Err(format!(
            "{text:?}: fractions are not accepted, use a smaller unit (\"1536MiB\", not \"1.5GiB\"); {SIZE_HINT}"
        ));
    }
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {text:?} (units are B, kB, MB, GB, TB, KiB, MiB, GiB, TiB); {SIZE_HINT}"
            ))
        }
    };
    let too_big = || format!("size {text:?} is too large (more than 2^64 bytes); {SIZE_HINT}");
    let value: u64 = number.parse().map_err(|_| too_big())?;
    value.checked_mul(scale).ok_or_else(too_big)
}

/// A size given as a TOML integer (bytes) or a string for [`parse_size`].
pub(crate) fn parse_size_value(value: &toml::Value) -> Result<u64, String> {
    match value {
        toml::Value::String(text) => parse_size(text),
        toml::Value::Integer(n) => {
            u64::try_from(*n).map_err(|_| format!("negative size {n}; {SIZE_HINT}"))
        }
        other => Err(format!(
            "expected a size, found a {}; {SIZE_HINT}",
            other.type_str()
        )),
    }
}

/// A Discord snowflake (user, role, channel, guild or application id), given as a TOML
/// integer or as a string of digits (as Discord's API and "Copy ID" produce).
pub(crate) fn parse_snowflake(value: &toml::Value) -> Result<u64, String> {
    const HINT: &str = "copy the id from Discord (Developer Mode, \"Copy ID\") and write it as a number or a string of digits";
    let id = match value {
        toml::Value::Integer(n) => {
            u64::try_from(*n).map_err(|_| format!("a Discord id cannot be negative; {HINT}"))?
        }
        toml::Value::String(text) => {
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{text:?} is not a Discord id; {HINT}"));
            }
            text.parse()
                .map_err(|_| format!("{text:?} is too large for a Discord id; {HINT}"))?
        }
        other => {
            return Err(format!(
                "expected a Discord id, found a {}; {HINT}",
                other.type_str()
            ))
        }
    };
    if id == 0 {
        return Err(format!("0 is not a Discord id; {HINT}"));
    }
    Ok(id)
}

/// Which schemes a URL key admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schemes {
    /// `http://` or `https://` only (chat endpoints, advisory links).
    Http,
    /// `http://`, `https://` or `file://` (configured sources, CONTRACT §4).
    HttpOrFile,
}

/// Check a URL's shape and return it with its scheme in lower case.
///
/// No `url` crate is available, so this is a deliberate, small check: a known scheme, a
/// non-empty host (http/https) or path (file), an optional numeric port, and no
/// whitespace or control characters. The fetcher does the real parsing.
pub(crate) fn check_url(text: &str, schemes: Schemes) -> Result<String, String> {
    let hint = match schemes {
        Schemes::Http => "write a URL like \"https://example.com/path\"",
        Schemes::HttpOrFile => {
            "write a URL like \"https://example.com/feed.xml\" or \"file://config/examples/feed.xml\""
        }
    };
    if text.is_empty() {
        return Err(format!("empty URL; {hint}"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "URL {text:?} contains spaces or control characters; percent-encode them ({hint})"
        ));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!("{text:?} is not a URL (no scheme); {hint}"));
    };
    let scheme = scheme.to_ascii_lowercase();
    match (scheme.as_str(), schemes) {
        ("http" | "https", _) => check_authority(text, rest, hint)?,
        ("file", Schemes::HttpOrFile) => {
            if rest.is_empty() {
                return Err(format!("file URL {text:?} has no path; {hint}"));
            }
        }
        _ => {
            let allowed = match schemes {
                Schemes::Http => "http or https",
                Schemes::HttpOrFile => "http, https or file",
            };
            return Err(format!(
                "URL scheme {scheme:?} is not supported here (use {allowed}); {hint}"
            ));
        }
    }
    Ok(format!("{scheme}://{rest}"))
}

/// The authority of an http(s) URL: `[user@]host[:port]`, host non-empty.
fn check_authority(text: &str, rest: &str, hint: &str) -> Result<(), String> {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(inner) = host_port.strip_prefix('[') {
        // IPv6 literal: "[::1]:8080".
        match inner.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => {
                return Err(format!(
                    "URL {text:?} has an unclosed '[' in its host; {hint}"
                ))
            }
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(format!("URL {text:?} has no host; {hint}"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().is_err() {
            return Err(format!(
                "URL {text:?} has an invalid port {port:?} (1-65535); {hint}"
            ));
        }
    }
    Ok(())
}

/// Check `chat.discord.token_env`: the *name* of the variable that holds the bot token.
///
/// Never echoes the value: a person who pasted the token itself must not find it again
/// in logs or chat. A value with a `.` longer than 50 characters is treated as a token.
pub(crate) fn check_token_env(name: &str) -> Result<(), String> {
    if name.len() > 50 && name.contains('.') {
        return Err("this looks like a Discord bot token, not the name of an environment variable: \
             put the token in the environment (e.g. DISCORD_TOKEN=...) and set token_env = \"DISCORD_TOKEN\"; \
             treat the pasted token as leaked and reset it in the Discord developer portal"
            .to_owned());
    }
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(
            "not an environment variable name: use letters, digits and '_', not starting \
             with a digit (e.g. \"DISCORD_TOKEN\"); the token itself belongs in the environment"
                .to_owned(),
        );
    }
    Ok(())
}

/// Check a vendor name: non-empty, only `[a-z0-9._-]`.
pub(crate) fn check_vendor_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty vendor name; use a short lower-case name like \"dten\"".to_owned());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(format!(
            "vendor name {name:?} may only contain a-z, 0-9, '.', '_' and '-'; use a short lower-case name like \"dten\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(secs(30)));
        assert_eq!(parse_duration("15m"), Ok(secs(900)));
        assert_eq!(parse_duration("1h"), Ok(secs(3600)));
        assert_eq!(parse_duration("90d"), Ok(secs(90 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_duration("1d2h3m4s"), Ok(secs(93_784)));
        assert_eq!(parse_duration("0s"), Ok(secs(0)));
        assert_eq!(parse_duration("36500d"), Ok(secs(MAX_DURATION_SECS)));
    }

    #[test]
    fn bad_durations() {
        for (text, needle) in [
            ("", "empty duration"),
            ("-5m", "negative"),
            ("15", "without a unit"),
            ("15x", "unknown duration unit \"x\""),
            ("15ms", "unknown duration unit \"ms\""),
            ("1.5h", "fractions"),
            ("1h 30m", "expected a number"),
            ("h", "expected a number"),
            (" 1h", "expected a number"),
            ("30m1h", "out of order"),
            ("1h1h", "repeats a unit"),
            ("36501d", "too long"),
            ("99999999999999999999s", "too long"),
            ("18446744073709551615d", "too long"),
        ] {
            let err = parse_duration(text).expect_err(text);
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.contains("write durations like"), "{text:?}: {err}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("16GiB"), Ok(16 << 30));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
        assert_eq!(parse_size("100kB"), Ok(100_000));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("64 mib"), Ok(64 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn bad_sizes() {
        for (text, needle) in [
            ("", "empty size"),
            ("-1", "negative"),
            ("MiB", "not a size"),
            ("64XB", "unknown size unit \"XB\""),
            ("64 bits", "unknown size unit"),
            ("1.5GiB", "fractions"),
            ("18446744073709551616", "too large"),
            ("16777216TiB", "too large"),
        ] {
            let err = parse_size(text).expect_err(text);
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.contains("write sizes like"), "{text:?}: {err}");
        }
    }

    #[test]
    fn size_values() {
        assert_eq!(parse_size_value(&toml::Value::Integer(4096)), Ok(4096));
        assert!(parse_size_value(&toml::Value::Integer(-1)).is_err());
        assert!(parse_size_value(&toml::Value::Boolean(true))
            .is_err_and(|e| e.contains("found a boolean")));
    }

    #[test]
    fn snowflakes() {
        let big = 123_456_789_012_345_678_i64;
        assert_eq!(parse_snowflake(&toml::Value::Integer(big)), Ok(big as u64));
        assert_eq!(
            parse_snowflake(&toml::Value::String("123456789012345678".into())),
            Ok(big as u64)
        );
        // Above i64::MAX only fits as a string.
        assert_eq!(
            parse_snowflake(&toml::Value::String("18446744073709551615".into())),
            Ok(u64::MAX)
        );
        for bad in [
            toml::Value::Integer(-5),
            toml::Value::Integer(0),
            toml::Value::String(String::new()),
            toml::Value::String("12a".into()),
            toml::Value::String("18446744073709551616".into()),
            toml::Value::Float(1.0),
        ] {
            assert!(parse_snowflake(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        use Schemes::{Http, HttpOrFile};
        assert_eq!(
            check_url("https://dten.example/a.xml", Http).as_deref(),
            Ok("https://dten.example/a.xml")
        );
        assert_eq!(
            check_url("HTTP://h:8080", Http).as_deref(),
            Ok("http://h:8080")
        );
        assert!(check_url("http://[::1]:8080/x", Http).is_ok());
        assert!(check_url("https://user@h/x", Http).is_ok());
        assert!(check_url("file://config/examples/dten/advisories.xml", HttpOrFile).is_ok());
        assert!(check_url("file:///var/mirror/feed.xml", HttpOrFile).is_ok());
        for (text, schemes, needle) in [
            ("", HttpOrFile, "empty URL"),
            ("dten.example/feed", HttpOrFile, "no scheme"),
            ("ftp://dten.example/", HttpOrFile, "not supported"),
            ("file:///etc/x", Http, "not supported"),
            ("file://", HttpOrFile, "no path"),
            ("https://", Http, "no host"),
            ("https:///path", Http, "no host"),
            ("https://h:http/", Http, "invalid port"),
            ("https://[::1/", Http, "unclosed"),
            ("https://h/a b", Http, "spaces"),
        ] {
            let err = check_url(text, schemes).expect_err(text);
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn token_env() {
        assert!(check_token_env("DISCORD_TOKEN").is_ok());
        assert!(check_token_env("_X1").is_ok());
        let token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB";
        let err = check_token_env(token).expect_err("token");
        assert!(err.contains("put the token in the environment"), "{err}");
        assert!(!err.contains(token));
        for bad in ["", "1ABC", "DISCORD TOKEN", "a-b"] {
            let err = check_token_env(bad).expect_err(bad);
            assert!(err.contains("environment variable name"), "{err}");
        }
    }

    #[test]
    fn vendor_names() {
        assert!(check_vendor_name("dten").is_ok());
        assert!(check_vendor_name("a.b_c-1").is_ok());
        assert!(check_vendor_name("").is_err());
        assert!(check_vendor_name("DTen").is_err());
        assert!(check_vendor_name("d ten").is_err());
        assert!(check_vendor_name("dten/x").is_err());
    }
}
