//! `sources::parse_feed` on any bytes (RSS, Atom, JSON Feed or garbage).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustwatch::sources::{parse_feed, MAX_ENTRIES};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse_feed(data, "https://vendor.example.com/advisories.xml") {
        assert!(entries.len() <= MAX_ENTRIES);
    }
});
