//! Feeds through feed-rs, from raw bytes (never re-decoded text: feed-rs honours the
//! declared encoding). What real servers emit and parsers trip on is handled here: a BOM
//! or whitespace before the XML declaration, and an `<rss>` without a `version`
//! attribute (feed-rs refuses it; we retry as RSS 2.0).

use feed_rs::parser::{Builder, ParseErrorKind, ParseFeedError};
use time::OffsetDateTime;

use super::html::fragment_text;
use super::{absolute, bounded, fallback_id, Entry, SourceError, MAX_ENTRIES, MAX_TEXT};

fn parse_once(bytes: &[u8], base: &str) -> Result<feed_rs::model::Feed, ParseFeedError> {
    Builder::new()
        .base_uri(Some(base))
        // An empty id marks "the feed gave none"; we make our own stable one.
        .id_generator(|_, _, _| String::new())
        .build()
        .parse(bytes)
}

/// Parse a feed document into entries.
pub fn parse_feed(bytes: &[u8], base: &str) -> Result<Vec<Entry>, SourceError> {
    let mut start = 0;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        start = 3;
    }
    while bytes.get(start).is_some_and(u8::is_ascii_whitespace) {
        start += 1;
    }
    let body = &bytes[start..];
    if body.is_empty() {
        return Err(SourceError::NotAFeed("the document is empty".into()));
    }
    let feed = match parse_once(body, base) {
        Ok(f) => f,
        Err(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot))
            if body.windows(4).any(|w| w == b"<rss") =>
        {
            // `<rss>` without a version: feed-rs wants one; real servers omit it.
            let text = String::from_utf8_lossy(body).replacen("<rss", "<rss version=\"2.0\"", 1);
            parse_once(text.as_bytes(), base).map_err(|e| describe(&e))?
        }
        Err(e) => return Err(describe(&e)),
    };
    Ok(dedupe(
        feed.entries
            .into_iter()
            .take(MAX_ENTRIES)
            .map(|e| convert(e, base))
            .collect(),
    ))
}

/// Real feeds repeat an id now and then (the GitHub advisory feed in the corpus does):
/// keep one entry per id, the most recently published, so one poll never reports the
/// same id twice.
fn dedupe(entries: Vec<Entry>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    for e in entries {
        match out.iter_mut().find(|o| o.id == e.id) {
            Some(existing) if e.published > existing.published => *existing = e,
            Some(_) => {}
            None => out.push(e),
        }
    }
    out
}

fn describe(e: &ParseFeedError) -> SourceError {
    match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => SourceError::NotAFeed(
            "no RSS, Atom or JSON Feed root element (is the URL an HTML page? configure it as [[vendor.page]])"
                .into(),
        ),
        ParseFeedError::JsonUnsupportedVersion(v) => {
            SourceError::NotAFeed(format!("unsupported JSON Feed version {v}"))
        }
        other => SourceError::MalformedFeed(other.to_string()),
    }
}

fn convert(e: feed_rs::model::Entry, base: &str) -> Entry {
    let title = e
        .title
        .as_ref()
        .map(|t| t.content.trim().to_owned())
        .unwrap_or_default();
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(e.links.first())
        .and_then(|l| absolute(base, &l.href));
    let published = e
        .published
        .or(e.updated)
        .and_then(|d| OffsetDateTime::from_unix_timestamp(d.timestamp()).ok());
    let mut text = title.clone();
    let mut links: Vec<String> = e
        .links
        .iter()
        .filter_map(|l| absolute(base, &l.href))
        .collect();
    let bodies = [
        e.summary
            .as_ref()
            .map(|s| (s.content.clone(), s.content_type.to_string())),
        e.content
            .as_ref()
            .and_then(|c| c.body.clone().map(|b| (b, c.content_type.to_string()))),
    ];
    for (body, kind) in bodies.into_iter().flatten() {
        text.push('\n');
        if kind.contains("html") || body.contains('<') {
            let (t, l) = fragment_text(&body, link.as_deref().unwrap_or(base));
            text.push_str(&t);
            for href in l {
                if !links.contains(&href) {
                    links.push(href);
                }
            }
        } else {
            text.push_str(&body);
        }
    }
    let text = bounded(text, MAX_TEXT);
    let id = if e.id.trim().is_empty() {
        link.clone()
            .unwrap_or_else(|| fallback_id(&title, published, &text))
    } else {
        e.id.trim().to_owned()
    };
    Entry {
        id,
        title,
        url: link.unwrap_or_else(|| base.to_owned()),
        published,
        text,
        links,
    }
}

#[cfg(test)]
mod tests;
