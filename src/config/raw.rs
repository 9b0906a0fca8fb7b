//! Stage one of config loading: a serde mirror of the TOML file (CONTRACT §4).
//!
//! Invariants: every struct has `#[serde(deny_unknown_fields)]`, so a misspelt key is an
//! error naming the key, its table and its line; every leaf that stage two validates is
//! an `Option<Spanned<toml::Value>>`, so a wrong type is a *validation* problem (collected
//! with the others, with its line) rather than the first and only serde error. Tables
//! that have required keys are `Spanned` so a missing key can point at its table.

use serde::Deserialize;
use toml::Spanned;

/// A scalar the validator checks itself: its value and where it was written.
pub(crate) type Leaf = Option<Spanned<toml::Value>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) store: Option<RawStore>,
    pub(crate) http: Option<RawHttp>,
    pub(crate) verify: Option<RawVerify>,
    pub(crate) poll: Option<RawPoll>,
    pub(crate) chat: Option<RawChat>,
    #[serde(default)]
    pub(crate) vendor: Vec<Spanned<RawVendor>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub(crate) path: Leaf,
    pub(crate) cache: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub(crate) user_agent: Leaf,
    pub(crate) timeout: Leaf,
    pub(crate) connect_timeout: Leaf,
    pub(crate) allow_private_addresses: Leaf,
    pub(crate) max_download: Leaf,
    pub(crate) max_redirects: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVerify {
    pub(crate) max_entry: Leaf,
    pub(crate) max_total: Leaf,
    pub(crate) max_entries: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPoll {
    pub(crate) backfill: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChat {
    /// Finding kinds posted to chat sinks.
    pub(crate) notify: Leaf,
    pub(crate) discord: Option<Spanned<RawDiscord>>,
    #[serde(default)]
    pub(crate) webhook: Vec<Spanned<RawWebhook>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    pub(crate) name: Leaf,
    pub(crate) url_env: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscord {
    pub(crate) token_env: Leaf,
    pub(crate) channel_id: Leaf,
    pub(crate) approver_role_id: Leaf,
    pub(crate) guild_id: Leaf,
    pub(crate) application_id: Leaf,
    pub(crate) api_base: Leaf,
    pub(crate) interactions_public_key: Leaf,
    pub(crate) interactions_listen: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVendor {
    pub(crate) name: Leaf,
    pub(crate) contact: Leaf,
    pub(crate) advisory_url: Leaf,
    #[serde(default)]
    pub(crate) feed: Vec<Spanned<RawFeed>>,
    #[serde(default)]
    pub(crate) page: Vec<Spanned<RawPage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeed {
    pub(crate) url: Leaf,
    pub(crate) interval: Leaf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPage {
    pub(crate) url: Leaf,
    pub(crate) item_selector: Leaf,
    pub(crate) next_selector: Leaf,
    pub(crate) max_pages: Leaf,
    pub(crate) interval: Leaf,
}

/// Parse the TOML text into the raw mirror. On failure, one message that starts with
/// `line N, column M:` when toml reports a position, names the table of an unknown key,
/// and says what to do.
pub(crate) fn parse_raw(text: &str) -> Result<RawConfig, String> {
    toml::from_str(text).map_err(|err| describe_toml_error(text, &err))
}

fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim_end();
    let Some(span) = err.span() else {
        return message.to_owned();
    };
    let location = location(text, span.start);
    if message == "duplicate key" {
        let table = enclosing_table(text, span.start);
        return match key_at(text, span.start) {
            Some(key) => format!(
                "{location}: duplicate key `{key}` in {table}; set each key once and delete \
                 the other line"
            ),
            None => format!("{location}: duplicate key in {table}; set each key once"),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((key, expected)) = rest.split_once('`') {
            let table = enclosing_table(text, span.start);
            return format!(
                "{location}: unknown field `{key}` in {table}{expected}; remove it or fix its \
                 spelling (config/trustwatch.toml lists every key)"
            );
        }
    }
    // serde names our private structs ("expected struct RawDiscord"): say "a table".
    let message = match message.find("struct Raw") {
        Some(at) => {
            let name_end = message[at + 7..]
                .find(|c: char| !c.is_ascii_alphanumeric())
                .map_or(message.len(), |i| at + 7 + i);
            format!("{}a table{}", &message[..at], &message[name_end..])
        }
        None => message.to_owned(),
    };
    if message.ends_with("expected a sequence") && source_without_vendor(text, span.start) {
        return format!(
            "{location}: {message}; a [[vendor.feed]] or [[vendor.page]] belongs to the \
             [[vendor]] table above it: put [[vendor]] with its name first"
        );
    }
    if message.ends_with("expected a sequence") {
        return format!(
            "{location}: {message}; write [[vendor]], [[vendor.feed]] and [[vendor.page]] \
             with double brackets, once per vendor or source"
        );
    }
    format!("{location}: {message}")
}

/// Whether the line at `offset` is a `[[vendor.feed]]`/`[[vendor.page]]` header: toml
/// reports "expected a sequence" there when no `[[vendor]]` came before it.
fn source_without_vendor(text: &str, offset: usize) -> bool {
    let line = line_at(text, offset);
    header_name(line).is_some_and(|h| h.starts_with("[[vendor."))
}

/// The bare key written at `offset` (`timeout` in `timeout = "1s"`), if it is one.
fn key_at(text: &str, offset: usize) -> Option<&str> {
    let start = offset.min(text.len());
    let rest = text.get(start..)?;
    let key = rest.split(['=', '\n']).next()?.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\'' | ' '));
    bare.then_some(key)
}

/// The whole line that contains `offset`.
fn line_at(text: &str, offset: usize) -> &str {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    text[start..].lines().next().unwrap_or_default()
}

/// `line N, column M` (both 1-based, column in characters) of a byte offset.
pub(crate) fn location(text: &str, offset: usize) -> String {
    let (line, column) = line_column(text, offset);
    format!("line {line}, column {column}")
}

/// 1-based line and column of a byte offset; offsets past the end or inside a character
/// are clamped to the nearest earlier character boundary.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Name the table header (`[http]`, `[[vendor.feed]]`) that encloses `offset`, by
/// scanning back for the nearest header line; "the top level" when there is none.
///
/// toml's error carries a span but not the key path, so this is a textual heuristic: it
/// names the header a person sees above the key, which is what they need to find it
/// (for a key inside an inline table it names the table that holds the inline table).
fn enclosing_table(text: &str, offset: usize) -> String {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    // An unknown table name sits on its own header line (`[htpp]`, `[chat.discrod]`):
    // it belongs to the header's parent, the dotted prefix before the key.
    let own_line = text[line_start..].lines().next().unwrap_or_default();
    if header_name(own_line).is_some() {
        let before_key = text[line_start..end].trim_start();
        let open = if before_key.starts_with("[[") {
            "[["
        } else {
            "["
        };
        let close = if open == "[[" { "]]" } else { "]" };
        let parent = before_key
            .trim_start_matches('[')
            .trim()
            .trim_end_matches('.')
            .trim();
        return if parent.is_empty() {
            "the top level".to_owned()
        } else {
            format!("{open}{parent}{close}")
        };
    }
    text[..line_start]
        .lines()
        .rev()
        .find_map(header_name)
        .unwrap_or_else(|| "the top level".to_owned())
}

/// `Some("[name]")` or `Some("[[name]]")` when `line` is a table header.
fn header_name(line: &str) -> Option<String> {
    let line = line.trim();
    let (open, close) = if line.starts_with("[[") {
        ("[[", "]]")
    } else if line.starts_with('[') {
        ("[", "]")
    } else {
        return None;
    };
    let inner = &line[open.len()..];
    let (name, after) = inner.split_once(close)?;
    let after = after.trim_start();
    let name_ok = !name.trim().is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\'' | ' '));
    (name_ok && (after.is_empty() || after.starts_with('#')))
        .then(|| format!("{open}{}{close}", name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes: the '=' after "bé " is column 4.
        assert_eq!(line_column(text, 10), (2, 4));
        // Inside 'é' and past the end are clamped, not a panic.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn headers() {
        assert_eq!(header_name("[http]").as_deref(), Some("[http]"));
        assert_eq!(
            header_name("  [[vendor.feed]]   # RSS").as_deref(),
            Some("[[vendor.feed]]")
        );
        assert_eq!(header_name("[1, 2],"), None);
        assert_eq!(header_name("x = [1]"), None);
        assert_eq!(header_name("[]"), None);
    }

    #[test]
    fn unknown_key_names_table_and_line() {
        let text = "[store]\npath = \"d\"\n\n[http]\n  # comment\ntimeout = \"1s\"\ncolour = 1\n";
        let err = parse_raw(text).expect_err("unknown key");
        assert!(
            err.starts_with("line 7, column 1: unknown field `colour` in [http], expected one of"),
            "{err}"
        );
        assert!(err.contains("remove it or fix its spelling"), "{err}");
    }

    #[test]
    fn duplicate_key_is_named() {
        let err = parse_raw("[http]\ntimeout = \"30s\"\ntimeout = \"1s\"\n").expect_err("dup");
        assert_eq!(
            err,
            "line 3, column 1: duplicate key `timeout` in [http]; set each key once and \
             delete the other line"
        );
    }

    #[test]
    fn source_before_any_vendor() {
        let err = parse_raw("[[vendor.feed]]\nurl = \"file:///x\"\n").expect_err("no vendor");
        assert!(err.starts_with("line 1, column 3: "), "{err}");
        assert!(err.contains("put [[vendor]] with its name first"), "{err}");
        // A single-bracket [vendor] still gets the double-bracket hint.
        let err = parse_raw("[vendor]\nname = \"x\"\n").expect_err("single bracket");
        assert!(err.contains("with double brackets"), "{err}");
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_raw("a = [\n").expect_err("syntax");
        assert!(err.starts_with("line 1, column 6: "), "{err}");
    }
}
