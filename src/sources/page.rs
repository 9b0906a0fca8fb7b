//! Pages and forum threads: every element matching `item_selector` is one entry; the
//! `next_selector` link (resolved against the page) is where the thread continues.
//!
//! An item's id is its `id` attribute (or `data-post-id`, or its first permalink), else
//! the page URL with the item's position, so an edited post keeps its id and is reported
//! as an update. Its date comes from a `<time datetime>` inside it.

use scraper::{Html, Selector};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::html::{element_text, NODE_BUDGET};
use super::{absolute, Entry, SourceError, MAX_ENTRIES};

/// One parsed page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// The next page of the thread, absolute, when `next_selector` found one.
    pub next: Option<String>,
}

fn selector(s: &str) -> Result<Selector, SourceError> {
    Selector::parse(s).map_err(|e| SourceError::BadSelector {
        selector: s.to_owned(),
        reason: e.to_string(),
    })
}

/// Deepest element nesting accepted. Real forum pages nest a few dozen levels; the HTML
/// tree builder's cost grows with depth times elements, so a page of 50,000 nested
/// `<div>`s is refused before it is parsed.
pub(crate) const MAX_DEPTH: usize = 2_000;

/// A cheap upper estimate of the element nesting depth (tags counted, void elements
/// and self-closing tags ignored).
fn nesting_depth(html: &str) -> usize {
    const VOID: [&str; 14] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let bytes = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'<') {
        i += off + 1;
        let Some(&c) = bytes.get(i) else { break };
        if c == b'/' {
            depth = depth.saturating_sub(1);
        } else if c.is_ascii_alphabetic() {
            let name: String = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .map(|b| char::from(*b).to_ascii_lowercase())
                .collect();
            let end = bytes[i..]
                .iter()
                .position(|&b| b == b'>')
                .map_or(bytes.len(), |p| i + p);
            let self_closing = end > 0 && bytes.get(end - 1) == Some(&b'/');
            if !VOID.contains(&name.as_str()) && !self_closing {
                depth += 1;
                max = max.max(depth);
            }
        }
    }
    max
}

/// Parse one page of a thread.
pub fn parse_page(
    html: &str,
    url: &str,
    item_selector: &str,
    next_selector: Option<&str>,
) -> Result<Page, SourceError> {
    let items = selector(item_selector)?;
    let next = next_selector.map(selector).transpose()?;
    let heading = selector("h1, h2, h3, h4")?;
    let time_sel = selector("time[datetime]")?;
    let title_sel = selector("title")?;
    let depth = nesting_depth(html);
    if depth > MAX_DEPTH {
        return Err(SourceError::TooDeep(depth));
    }
    let doc = Html::parse_document(html);
    let page_title = doc
        .select(&title_sel)
        .next()
        .map(|t| t.text().collect::<String>().trim().to_owned())
        .unwrap_or_default();
    let mut entries = Vec::new();
    let mut budget = NODE_BUDGET;
    for (n, item) in doc.select(&items).take(MAX_ENTRIES).enumerate() {
        if budget == 0 {
            break;
        }
        let (text, links) = element_text(item, url, &mut budget);
        let el = item.value();
        let anchor = el.attr("id").or_else(|| el.attr("data-post-id"));
        let (id, entry_url) = match anchor {
            Some(a) => (format!("{url}#{a}"), format!("{url}#{a}")),
            None => (format!("{url}#item-{}", n + 1), url.to_owned()),
        };
        let title = item
            .select(&heading)
            .next()
            .map(|h| h.text().collect::<String>().trim().to_owned())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| format!("{page_title} (post {})", n + 1));
        let published = item
            .select(&time_sel)
            .next()
            .and_then(|t| t.value().attr("datetime"))
            .and_then(|d| OffsetDateTime::parse(d.trim(), &Rfc3339).ok());
        entries.push(Entry {
            id,
            title,
            url: entry_url,
            published,
            text,
            links,
        });
    }
    let next = next.and_then(|sel| {
        doc.select(&sel)
            .next()
            .and_then(|a| a.value().attr("href"))
            .and_then(|h| absolute(url, h))
    });
    Ok(Page { entries, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREAD: &str = r#"<!doctype html><html><head><title>Code-signing CA rotation - DTEN forum</title></head>
<body><article class="post" id="p1"><h2>Code-signing CA rotation</h2><time datetime="2026-08-01T10:00:00Z">Aug 1</time>
<p>We are rotating our CA. SHA-256 fingerprint: <code>AA:BB</code></p></article>
<article class="post" data-post-id="p2"><p>Where is the &lt;certificate&gt;? See <a href="/files/ca.crt">here</a>.</p></article>
<article class="post"><p>third</p></article>
<a rel="next" href="?page=2">Next</a></body></html>"#;

    #[test]
    fn posts_ids_dates_links_and_the_next_page() {
        let p = parse_page(
            THREAD,
            "https://forum.dten.example/t/4242",
            "article.post",
            Some("a[rel=next]"),
        )
        .unwrap();
        assert_eq!(p.entries.len(), 3);
        let first = &p.entries[0];
        assert_eq!(first.id, "https://forum.dten.example/t/4242#p1");
        assert_eq!(first.title, "Code-signing CA rotation");
        assert_eq!(first.published.unwrap().year(), 2026);
        assert!(first.text.contains("SHA-256 fingerprint:"));
        let second = &p.entries[1];
        assert_eq!(second.id, "https://forum.dten.example/t/4242#p2");
        assert!(second.text.contains("<certificate>"), "{}", second.text);
        assert_eq!(
            second.links,
            vec!["https://forum.dten.example/files/ca.crt"]
        );
        assert_eq!(p.entries[2].id, "https://forum.dten.example/t/4242#item-3");
        assert_eq!(
            p.entries[2].title,
            "Code-signing CA rotation - DTEN forum (post 3)"
        );
        assert_eq!(
            p.next.as_deref(),
            Some("https://forum.dten.example/t/4242?page=2")
        );
    }

    #[test]
    fn bad_selectors_and_hostile_html() {
        assert!(matches!(
            parse_page("<p>", "https://x/", "div[", None),
            Err(SourceError::BadSelector { .. })
        ));
        let deep = "<div>".repeat(50_000) + "x";
        assert!(matches!(
            parse_page(&deep, "https://x/", "div", None),
            Err(SourceError::TooDeep(_))
        ));
        let fine = "<div><br><img src=x><p>a</p></div>".repeat(10_000);
        assert_eq!(
            parse_page(&fine, "https://x/", "p", None)
                .unwrap()
                .entries
                .len(),
            5_000
        );
        let p = parse_page(
            "<a rel=next href='javascript:alert(1)'>n</a>",
            "https://x/",
            "p",
            Some("a[rel=next]"),
        )
        .unwrap();
        assert_eq!(p.next, None);
    }
}
