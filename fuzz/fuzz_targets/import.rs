//! `trust::import::parse_certificates` on any bytes (PEM, DER, PKCS#7 garbage); every
//! certificate it returns is then inspected as `trust add` would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustwatch::trust::{cert, import, Fingerprint};

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = import::parse_certificates(data) {
        assert!(!certs.is_empty());
        assert!(certs.len() <= import::MAX_CERTIFICATES);
        for c in &certs {
            let _ = Fingerprint::of(c.as_ref());
            let _ = cert::inspect(c.as_ref());
        }
    }
});
