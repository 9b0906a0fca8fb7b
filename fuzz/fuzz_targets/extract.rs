//! `advisory::extract::extract` on any text (UTF-8, lossily): bounded lists, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustwatch::advisory::extract::{extract, MAX_ITEMS};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let out = extract(&text);
    assert!(out.sha256.len() <= MAX_ITEMS);
    assert!(out.sha1.len() <= MAX_ITEMS);
    assert!(out.cert_links.len() <= MAX_ITEMS);
    assert!(out.cves.len() <= MAX_ITEMS);
    assert!(out.config_keys.len() <= MAX_ITEMS);
});
