//! Stage two for `[[vendor]]` tables and their `[[vendor.feed]]`/`[[vendor.page]]`
//! sources: names unique and well-formed, source URLs http(s) or file, no URL twice per
//! vendor, required keys reported at their table's header.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;

use super::{expect_str, Checker};
use crate::config::raw::{location, Leaf, RawFeed, RawPage, RawVendor};
use crate::config::types::{check_vendor_name, Schemes};
use crate::config::{FeedSource, PageSource, Vendor};

/// Highest `max_pages`: following more pages per poll is crawling a forum, not watching it.
const MAX_PAGES_LIMIT: i64 = 1_000;

impl Checker<'_> {
    pub(super) fn vendors(&mut self, raw: &[Spanned<RawVendor>]) -> Vec<Vendor> {
        // name -> (index, position) of its first definition, to report duplicates.
        let mut seen: HashMap<String, (usize, String)> = HashMap::new();
        let mut vendors = Vec::with_capacity(raw.len());
        for (i, spanned) in raw.iter().enumerate() {
            let vendor = spanned.get_ref();
            let path = format!("vendor[{i}]");
            let name_path = format!("{path}.name");
            let name = self.leaf(&name_path, &vendor.name, |value| {
                let name = expect_str(value, "a vendor name like \"dten\"")?;
                check_vendor_name(name).map(|()| name.to_owned())
            });
            if vendor.name.is_none() {
                self.missing(
                    &name_path,
                    &spanned.span(),
                    "give the vendor a short lower-case name like name = \"dten\"",
                );
            }
            if let (Some(name), Some(leaf)) = (&name, &vendor.name) {
                let here = location(self.text, leaf.span().start);
                if let Some((first, at)) = seen.get(name) {
                    let message = format!(
                        "vendor name {name:?} is already used by vendor[{first}] ({at}); give each vendor a unique name or merge their sources"
                    );
                    self.report(&name_path, Some(&leaf.span()), message);
                } else {
                    seen.insert(name.clone(), (i, here));
                }
            }
            let contact = self.text(
                &format!("{path}.contact"),
                &vendor.contact,
                "how to reach the vendor's security team, e.g. \"security@dten.example\"",
            );
            let advisory_url = self.url(
                &format!("{path}.advisory_url"),
                &vendor.advisory_url,
                Schemes::Http,
            );
            let feeds: Vec<FeedSource> = vendor
                .feed
                .iter()
                .enumerate()
                .filter_map(|(j, feed)| self.feed(&format!("{path}.feed[{j}]"), feed))
                .collect();
            let pages: Vec<PageSource> = vendor
                .page
                .iter()
                .enumerate()
                .filter_map(|(j, page)| self.page(&format!("{path}.page[{j}]"), page))
                .collect();
            self.duplicate_urls(&path, vendor);
            vendors.push(Vendor {
                name: name.unwrap_or_default(),
                contact,
                advisory_url,
                feeds,
                pages,
            });
        }
        vendors
    }

    fn source_url(&mut self, path: &str, table: &Range<usize>, url: &Leaf) -> Option<String> {
        let url_path = format!("{path}.url");
        if url.is_none() {
            self.missing(
                &url_path,
                table,
                "set the URL to poll (http://, https:// or file://)",
            );
        }
        self.url(&url_path, url, Schemes::HttpOrFile)
    }

    fn feed(&mut self, path: &str, raw: &Spanned<RawFeed>) -> Option<FeedSource> {
        let feed = raw.get_ref();
        let url = self.source_url(path, &raw.span(), &feed.url);
        let interval = self
            .duration(&format!("{path}.interval"), &feed.interval, true)
            .unwrap_or(FeedSource::DEFAULT_INTERVAL);
        Some(FeedSource {
            url: url?,
            interval,
        })
    }

    fn page(&mut self, path: &str, raw: &Spanned<RawPage>) -> Option<PageSource> {
        let page = raw.get_ref();
        let url = self.source_url(path, &raw.span(), &page.url);
        const SELECTOR: &str = "a CSS selector such as \"article.post\"";
        let item_path = format!("{path}.item_selector");
        let item_selector = self.text(&item_path, &page.item_selector, SELECTOR);
        if page.item_selector.is_none() {
            self.missing(
                &item_path,
                &raw.span(),
                "set the CSS selector of one post, e.g. item_selector = \"article.post\"",
            );
        }
        let next_selector = self.text(
            &format!("{path}.next_selector"),
            &page.next_selector,
            SELECTOR,
        );
        let max_pages = self
            .integer(
                &format!("{path}.max_pages"),
                &page.max_pages,
                1,
                MAX_PAGES_LIMIT,
            )
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(PageSource::DEFAULT_MAX_PAGES);
        let interval = self
            .duration(&format!("{path}.interval"), &page.interval, true)
            .unwrap_or(PageSource::DEFAULT_INTERVAL);
        Some(PageSource {
            url: url?,
            item_selector: item_selector?,
            next_selector,
            max_pages,
            interval,
        })
    }

    /// The same URL twice in one vendor would be polled twice and report twice.
    fn duplicate_urls(&mut self, path: &str, vendor: &RawVendor) {
        let urls = vendor
            .feed
            .iter()
            .enumerate()
            .map(|(j, f)| (format!("{path}.feed[{j}].url"), &f.get_ref().url))
            .chain(
                vendor
                    .page
                    .iter()
                    .enumerate()
                    .map(|(j, p)| (format!("{path}.page[{j}].url"), &p.get_ref().url)),
            );
        let mut seen: HashMap<&str, String> = HashMap::new();
        let mut duplicates = Vec::new();
        for (key, leaf) in urls {
            let Some(leaf) = leaf else { continue };
            let Some(url) = leaf.get_ref().as_str() else {
                continue;
            };
            if let Some(first) = seen.get(url) {
                duplicates.push((key, leaf.span(), first.clone()));
            } else {
                seen.insert(url, key);
            }
        }
        for (key, span, first) in duplicates {
            self.report(
                &key,
                Some(&span),
                format!("the same URL is already configured as {first}; remove one of them"),
            );
        }
    }
}
