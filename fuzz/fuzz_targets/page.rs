//! `sources::parse_page` on any HTML (UTF-8, lossily) with the selectors of the bundled
//! configuration's forum source.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustwatch::sources::{parse_page, MAX_ENTRIES};

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    if let Ok(page) = parse_page(
        &html,
        "https://forum.example.com/t/ca-rotation/42",
        "article.post",
        Some("a[rel=next]"),
    ) {
        assert!(page.entries.len() <= MAX_ENTRIES);
    }
});
