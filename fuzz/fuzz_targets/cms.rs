//! `verify::signature::verify_cms` on any signature bytes (DER or PEM) over a fixed
//! manifest: a verdict of some kind, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustwatch::verify::signature::{verify_cms, Content};

const MANIFEST: &[u8] = include_bytes!("../../tests/fixtures/pki/manifest.json");

fuzz_target!(|data: &[u8]| {
    let check = verify_cms(data, Content::Bytes(MANIFEST), &[]);
    let _ = check.outcome.is_ok();
});
