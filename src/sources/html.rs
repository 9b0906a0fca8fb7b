//! HTML to text for extraction: entities decoded, block elements on their own lines,
//! links collected. Runs on scraper's DOM (html5ever), which is `!Send`: everything here
//! is synchronous and returns owned data.

use scraper::{ElementRef, Html, Node};

use super::{absolute, bounded, MAX_TEXT};

const BLOCKS: [&str; 20] = [
    "p",
    "br",
    "div",
    "pre",
    "li",
    "tr",
    "td",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "article",
    "section",
    "blockquote",
    "code",
    "ul",
    "ol",
    "table",
];

/// How many DOM nodes one document may cost us in total. Deeply nested pages make
/// every item contain every later one; without a budget, collecting text is quadratic.
pub(crate) const NODE_BUDGET: usize = 2_000_000;

/// Text and absolute links of an element's subtree, spending at most `*budget` nodes.
pub(crate) fn element_text(
    el: ElementRef<'_>,
    base: &str,
    budget: &mut usize,
) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut links = Vec::new();
    for node in el.descendants() {
        if *budget == 0 || text.len() >= MAX_TEXT {
            break;
        }
        *budget -= 1;
        match node.value() {
            Node::Text(t) => text.push_str(t),
            Node::Element(e) => {
                if BLOCKS.contains(&e.name()) {
                    text.push('\n');
                } else if e.name() != "a" {
                    text.push(' ');
                }
                if e.name() == "a" {
                    if let Some(href) = e.attr("href").and_then(|h| absolute(base, h)) {
                        if links.len() < 200 && !links.contains(&href) {
                            links.push(href);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (bounded(text, MAX_TEXT), links)
}

/// Text and links of an HTML fragment (a feed's content or summary).
///
/// A fragment nested deeper than `page::MAX_DEPTH` is not given to the tree builder
/// (its scope checks make that quadratic: 100,000 nested `<div>`s in one feed entry
/// took minutes). Its tags are stripped instead, so the entry is still read and its
/// fingerprints and CVE ids still found; links are not collected from it.
pub(crate) fn fragment_text(html: &str, base: &str) -> (String, Vec<String>) {
    if super::page::nesting_depth(html) > super::page::MAX_DEPTH {
        return (bounded(strip_tags(html), MAX_TEXT), Vec::new());
    }
    let doc = Html::parse_fragment(html);
    let mut budget = NODE_BUDGET;
    element_text(doc.root_element(), base, &mut budget)
}

/// The text between tags, in one linear pass; each tag becomes a space. Entities are
/// left as written (only the deep-fragment fallback uses this).
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(MAX_TEXT));
    let mut in_tag = false;
    for c in html.chars() {
        if out.len() >= MAX_TEXT {
            break;
        }
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_nested_too_deep_is_stripped_not_parsed() {
        let deep = format!("CVE-2026-6666 {}x", "<div>".repeat(100_000));
        let start = std::time::Instant::now();
        let (text, links) = fragment_text(&deep, "https://x/");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(text.contains("CVE-2026-6666"), "{text}");
        assert!(text.trim_end().ends_with('x'));
        assert!(links.is_empty());
        let (text, links) = fragment_text("<p>a <a href=\"/k.crt\">key</a></p>", "https://x/");
        assert_eq!(
            (text.trim(), links),
            ("a key", vec!["https://x/k.crt".to_owned()])
        );
    }
}
