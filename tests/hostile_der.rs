//! PEM, DER and CMS garbage against the public parsers (certificate import, CMS and raw
//! signature checks, certificate inspection) and the real binary: truncated structures,
//! wrong tags, lengths of gigabytes, nesting 100,000 deep (definite and indefinite),
//! PEM with no end or megabytes of base64, input past the import cap. Each is an error with a reason, in bounded
//! time, never a panic.

mod common;

use std::time::{Duration, Instant};

use rustls_pki_types::CertificateDer;
use trustwatch::trust::import::parse_certificates;
use trustwatch::verify::signature::{verify_cms, verify_raw, Content};

use common::{Alg, Env, Pki};

/// DER length octets for `n`.
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![u8::try_from(n).unwrap()];
    }
    let bytes: Vec<u8> = n
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | u8::try_from(bytes.len()).unwrap()];
    out.extend(bytes);
    out
}

/// `depth` SEQUENCEs, each holding the next, with correct definite lengths, around
/// `core`. Built outside in from the lengths (no quadratic copying).
fn nested(depth: usize, core: &[u8]) -> Vec<u8> {
    let mut lens = Vec::with_capacity(depth);
    let mut inner = core.len();
    for _ in 0..depth {
        lens.push(inner);
        inner += 1 + der_len(inner).len();
    }
    let mut out = Vec::with_capacity(inner);
    for len in lens.iter().rev() {
        out.push(0x30);
        out.extend(der_len(*len));
    }
    out.extend(core);
    out
}

/// A ContentInfo claiming signedData around `content`.
fn content_info(content: &[u8]) -> Vec<u8> {
    let oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    let mut explicit = vec![0xa0];
    explicit.extend(der_len(content.len()));
    explicit.extend(content);
    let mut body = oid.to_vec();
    body.extend(explicit);
    let mut out = vec![0x30];
    out.extend(der_len(body.len()));
    out.extend(body);
    out
}

fn pem(label: &str, body: &str) -> Vec<u8> {
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n").into_bytes()
}

fn hostile_inputs() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("100,000 nested SEQUENCEs".into(), nested(100_000, &[])),
        (
            "signedData holding 100,000 nested SEQUENCEs".into(),
            content_info(&nested(100_000, &[0x02, 0x01, 0x01])),
        ),
        (
            "500,000 nested indefinite lengths".into(),
            [0x30, 0x80].repeat(500_000),
        ),
        (
            "signedData holding nested indefinite lengths".into(),
            content_info(&[0x30, 0x80].repeat(100_000)),
        ),
        (
            "a 4 GiB length on 6 bytes".into(),
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            "a 2^64 length".into(),
            vec![
                0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
            ],
        ),
        (
            "a 127-octet length".into(),
            [vec![0x30, 0xff], vec![0xff; 127]].concat(),
        ),
        (
            "a long-form tag that never ends".into(),
            [vec![0x1f], vec![0xff; 1 << 16]].concat(),
        ),
        ("a SET, not a SEQUENCE".into(), vec![0x31, 0x03, 2, 1, 1]),
        (
            "an OCTET STRING of 4 MiB".into(),
            [vec![0x04, 0x83, 0x40, 0, 0], vec![0; 4 << 20]].concat(),
        ),
        (
            "PEM: 100,000 BEGIN lines, no END".into(),
            b"-----BEGIN CERTIFICATE-----\nMIIB\n".repeat(100_000),
        ),
        (
            "PEM: 8 MiB of base64 in one block".into(),
            pem("CERTIFICATE", &"QUFB".repeat(2 << 20)),
        ),
        (
            "PEM: 5,000 blocks of junk".into(),
            pem("CERTIFICATE", "MAMCAQE=").repeat(5_000),
        ),
        (
            "PEM: a PKCS7 block of nested SEQUENCEs".into(),
            pem("PKCS7", &base64_of(&nested(50_000, &[]))),
        ),
    ];
    // Just over trust::import::MAX_INPUT (32 MiB).
    cases.push(("33 MiB of zeros".into(), vec![0; 33 << 20]));
    cases
}

fn base64_of(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn der_pem_and_cms_garbage_is_an_error_in_bounded_time() {
    for (label, input) in hostile_inputs() {
        let timed = |f: &dyn Fn() -> bool| {
            let start = Instant::now();
            let refused = f();
            (refused, start.elapsed())
        };
        let (import, t_import) = timed(&|| parse_certificates(&input).is_err());
        let (cms, t_cms) = timed(&|| {
            verify_cms(&input, Content::Bytes(b"manifest"), &[])
                .outcome
                .is_err()
        });
        let (raw, t_raw) = timed(&|| {
            let junk = CertificateDer::from(input.clone());
            verify_raw(&input, Content::Bytes(b"manifest"), &[junk])
                .outcome
                .is_err()
        });
        let (inspect, t_inspect) = timed(&|| trustwatch::trust::cert::inspect(&input).is_err());
        assert!(
            import && cms && raw && inspect,
            "{label}: accepted somewhere"
        );
        let took = t_import + t_cms + t_raw + t_inspect;
        assert!(took < Duration::from_secs(15), "{label}: {took:?}");
        let why = |e: String| e.chars().take(110).collect::<String>();
        eprintln!(
            "FIGURE {label} ({} KiB): import {:?}; cms {:?}; import {:.3} s, cms {:.3} s, raw {:.3} s, inspect {:.3} s",
            input.len() >> 10,
            parse_certificates(&input).err().map(|e| why(e.to_string())),
            verify_cms(&input, Content::Bytes(b"manifest"), &[])
                .outcome
                .err()
                .map(|e| why(e.to_string())),
            t_import.as_secs_f64(),
            t_cms.as_secs_f64(),
            t_raw.as_secs_f64(),
            t_inspect.as_secs_f64(),
        );
    }
}

#[test]
fn a_real_signature_cut_or_retagged_anywhere_is_malformed() {
    let pki = Pki::new(Alg::P256);
    let content = b"{\"files\": []}";
    let sig = common::openssl_cms(&pki.leaf, &[&pki.intermediate.der], content, false, &[]);
    let start = Instant::now();
    for n in 0..sig.len() {
        let check = verify_cms(&sig[..n], Content::Bytes(content), &[]);
        assert!(check.outcome.is_err(), "prefix {n} verified");
    }
    // Every byte's tag bits flipped in turn (wrong tags everywhere).
    for i in (0..sig.len()).step_by(3) {
        let mut bad = sig.clone();
        bad[i] ^= 0x20;
        let _ = verify_cms(&bad, Content::Bytes(content), &[]);
    }
    eprintln!(
        "FIGURE every prefix and a tag-bit flip at every third byte of a {}-byte CMS signature: {:.2} s",
        sig.len(),
        start.elapsed().as_secs_f64()
    );
    // The untouched one still verifies (the loop above tested something real).
    assert!(verify_cms(&sig, Content::Bytes(content), &[])
        .outcome
        .is_ok());
}

#[test]
fn the_binary_refuses_garbage_certificates_and_signatures_clearly() {
    let env = Env::new();
    let deep = env.write("deep.der", nested(100_000, &[]));
    let indefinite = env.write("indef.p7s", [0x30, 0x80].repeat(500_000));
    let out = env.run(&["trust", "add", deep.to_str().unwrap(), "--vendor", "dten"]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.trim().is_empty());
    eprintln!(
        "FIGURE trust add of 100,000 nested SEQUENCEs: {}",
        err.trim()
    );
    let file = env.write("f.bin", b"content");
    let (code, report) = env.verify(&[
        file.to_str().unwrap(),
        "--signature",
        indefinite.to_str().unwrap(),
    ]);
    assert_eq!((code, common::verdict(&report)), (1, "invalid"), "{report}");
    eprintln!(
        "FIGURE verify with 500,000 nested indefinite lengths as signature: {}",
        common::reasons(&report)
    );
}
