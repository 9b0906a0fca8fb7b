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
pub(crate) fn fragment_text(html: &str, base: &str) -> (String, Vec<String>) {
    let doc = Html::parse_fragment(html);
    let mut budget = NODE_BUDGET;
    element_text(doc.root_element(), base, &mut budget)
}
