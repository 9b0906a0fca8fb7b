//! Sources: vendor feeds (RSS 0.9x/1.0/2.0, Atom, JSON Feed, via feed-rs) and pages or
//! forum threads (HTML, via scraper), turned into [`Entry`] values.
//!
//! Pure: bytes in, entries out. Fetching is `fetch`'s job and remembering is `store`'s.
//! Every entry gets a stable id (the feed's guid or id, else its link, else a hash of
//! its title, date and text) and a content hash, so an edited advisory is seen as an
//! update and an unchanged one is never reported twice.

mod feed;
mod html;
mod page;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use feed::parse_feed;
pub use page::{parse_page, Page};

/// Most entries taken from one document (a hostile feed could hold millions).
pub const MAX_ENTRIES: usize = 5_000;
/// Most characters of text kept per entry.
pub const MAX_TEXT: usize = 256 << 10;

/// One post, advisory or feed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub title: String,
    /// Where a person reads it (absolute).
    pub url: String,
    pub published: Option<OffsetDateTime>,
    /// Title, summary and content as plain text (HTML converted, entities decoded).
    pub text: String,
    /// Links found in the content (absolute).
    pub links: Vec<String>,
}

impl Entry {
    /// SHA-256 over what a reader sees: an edit changes it.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [&self.title, &self.url, &self.text] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for l in &self.links {
            h.update(l.as_bytes());
            h.update([0]);
        }
        h.finalize().into()
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("malformed feed: {0}")]
    MalformedFeed(String),
    #[error("invalid CSS selector {selector:?}: {reason}")]
    BadSelector { selector: String, reason: String },
    #[error("the page is not UTF-8 text")]
    NotText,
    #[error(
        "the page nests elements more than {max} deep (counted {0} before stopping); refused: \
         no forum page nests that deep, so this one is broken or hostile",
        max = page::MAX_DEPTH
    )]
    TooDeep(usize),
    #[error(
        "the page holds more than {max} elements; refused (its DOM would take hundreds of \
         MiB): point the source at a single thread page, not an archive or a dump",
        max = page::MAX_ELEMENTS
    )]
    TooManyElements(usize),
}

/// An id for an entry that has none: a hash of what identifies it.
pub(crate) fn fallback_id(title: &str, published: Option<OffsetDateTime>, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(title.as_bytes());
    h.update([0]);
    h.update(
        published
            .map(|p| p.unix_timestamp())
            .unwrap_or(0)
            .to_be_bytes(),
    );
    let head: String = text.chars().take(1024).collect();
    h.update(head.as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Resolve `href` against `base`; `None` when it is not http(s) or file.
pub(crate) fn absolute(base: &str, href: &str) -> Option<String> {
    let joined = match url::Url::parse(base) {
        Ok(b) => b.join(href.trim()).ok()?,
        Err(_) => url::Url::parse(href.trim()).ok()?,
    };
    matches!(joined.scheme(), "http" | "https" | "file").then(|| joined.to_string())
}

/// Cut `s` to at most `max` characters.
pub(crate) fn bounded(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}
