//! `Fingerprint::from_str` on any text: never panics; what it accepts prints as 64
//! lowercase hex digits and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustwatch::trust::Fingerprint;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(fp) = text.parse::<Fingerprint>() {
        let hex = fp.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(hex.parse::<Fingerprint>().ok(), Some(fp));
    }
});
