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

/// Most elements (start tags) accepted in one page. The DOM costs about 350 bytes per
/// element (measured: 1.2 million elements, a 17 MiB page, took 431 MiB), so a 64 MiB
/// `http.max_download` of bare tags would need gigabytes; 250,000 keeps a page under
/// about 100 MiB while real forum pages have a few thousand.
pub(crate) const MAX_ELEMENTS: usize = 250_000;

/// How many start tags `html` holds (an upper bound of its elements), stopping past
/// `MAX_ELEMENTS`.
fn element_count(html: &str) -> usize {
    let bytes = html.as_bytes();
    let mut n = 0;
    for (i, _) in bytes.iter().enumerate().filter(|(_, &b)| b == b'<') {
        if bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            n += 1;
            if n > MAX_ELEMENTS {
                break;
            }
        }
    }
    n
}

/// Elements an end tag for another name does not close through (the HTML "special"
/// category, trimmed to the common ones): `</span>` with a `<div>` above the span is
/// ignored by the tree builder, so it must not lower the estimate either.
const SPECIAL: [&str; 40] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "button",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "html",
    "iframe",
    "li",
    "main",
    "nav",
    "object",
    "ol",
    "p",
    "pre",
    "section",
    "select",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];
/// Block names whose end tag closes through everything but these scope boundaries.
const SCOPED: [&str; 22] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figure",
    "footer",
    "header",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "ul",
];
const BOUNDARY: [&str; 8] = [
    "html", "table", "td", "th", "caption", "object", "template", "button",
];
/// Elements a start tag of the same name closes (`<li>a<li>b`, `<p>a<p>b`).
const SELF_CLOSING_SIBLINGS: [&str; 8] = ["p", "li", "dd", "dt", "option", "tr", "td", "th"];
/// How far down the stack one end tag is looked for. An end tag that would close more
/// than this many elements at once is treated as ignored: the estimate errs high only
/// for markup no real page has, and the work per tag stays constant.
const END_TAG_REACH: usize = 64;

/// A cheap estimate of the element nesting depth the HTML tree builder will reach, on
/// a stack of open tag names (void elements and self-closing tags ignored). End tags pop
/// only what the tree builder would pop: an end tag with no open element of its name
/// (`<div></x>` repeated: a naive count sees depth 1, html5ever builds 100,000 deep and
/// spends minutes on its scope checks) or one blocked by a special element or a scope
/// boundary changes nothing. Stops counting once past `MAX_DEPTH`. Linear in the page.
pub(crate) fn nesting_depth(html: &str) -> usize {
    const VOID: [&str; 14] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let bytes = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut open: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut max = 0usize;
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'<') {
        i += off + 1;
        let Some(&c) = bytes.get(i) else { break };
        let closing = c == b'/';
        let at = if closing { i + 1 } else { i };
        if !bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let name: String = bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .map(|b| char::from(*b).to_ascii_lowercase())
            .collect();
        if closing {
            if open.get(&name).copied().unwrap_or(0) == 0 {
                continue;
            }
            let scoped = SCOPED.contains(&name.as_str());
            let found = stack
                .iter()
                .rev()
                .take(END_TAG_REACH)
                .position(|n| {
                    *n == name
                        || if scoped {
                            BOUNDARY.contains(&n.as_str())
                        } else {
                            SPECIAL.contains(&n.as_str())
                        }
                })
                .filter(|&p| stack[stack.len() - 1 - p] == name);
            if let Some(p) = found {
                for n in stack.drain(stack.len() - 1 - p..) {
                    if let Some(c) = open.get_mut(&n) {
                        *c -= 1;
                    }
                }
            }
            continue;
        }
        let end = bytes[i..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(bytes.len(), |p| i + p);
        let self_closing = end > 0 && bytes.get(end - 1) == Some(&b'/');
        if VOID.contains(&name.as_str()) || self_closing {
            continue;
        }
        if SELF_CLOSING_SIBLINGS.contains(&name.as_str()) && stack.last() == Some(&name) {
            stack.pop();
            if let Some(c) = open.get_mut(&name) {
                *c -= 1;
            }
        }
        *open.entry(name.clone()).or_default() += 1;
        stack.push(name);
        max = max.max(stack.len());
        if max > MAX_DEPTH {
            break;
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
    let elements = element_count(html);
    if elements > MAX_ELEMENTS {
        return Err(SourceError::TooManyElements(elements));
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
        // Stray or blocked end tags do not hide the depth the tree builder reaches.
        for disguised in [
            "<div></x>".repeat(50_000),
            "<span><div></span>".repeat(50_000),
            "<div><table></div>".repeat(50_000),
        ] {
            assert!(
                matches!(
                    parse_page(&disguised, "https://x/", "div", None),
                    Err(SourceError::TooDeep(_))
                ),
                "{}",
                &disguised[..20]
            );
        }
        // Unclosed paragraphs and list items are siblings, not nesting.
        let sloppy = "<ul><li>a<li>b<li>c</ul><p>one<p>two<div>x</div>".repeat(5_000);
        assert!(parse_page(&sloppy, "https://x/", "li", None).is_ok());
        assert!(matches!(
            parse_page(&"<p>x</p>".repeat(300_000), "https://x/", "p", None),
            Err(SourceError::TooManyElements(_))
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
