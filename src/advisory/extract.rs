//! Pulling facts out of what a vendor wrote: SHA-256 and SHA-1 (or OpenPGP v4)
//! fingerprints in the forms vendors write them, certificates in PEM or PKCS#7 blocks,
//! links to certificate files, CVE ids, and configuration keys near deprecation words.
//!
//! Pure functions over text (HTML is turned into text by `sources` first; entities are
//! decoded there). Every list is bounded, so a hostile post cannot make us hold more
//! than a few hundred items.
//!
//! Rules:
//! - A fingerprint is 64 (SHA-256) or 40 (SHA-1/OpenPGP) hex digits, contiguous or in
//!   pairs/groups separated by `:`, `-` or spaces (`AB:CD:…`, `7953 AC1F …`). Colon- or
//!   space-separated forms always count; a contiguous run counts only when a label
//!   (`fingerprint`, `sha256`, `sha-256`, `sha1`, `thumbprint`) stands shortly before it,
//!   so file checksums and commit ids in prose are not taken for keys.
//! - Certificates: every `CERTIFICATE`, `PKCS7` or `CMS` PEM block that parses.
//! - Certificate links: `http(s)` URLs whose path ends in `.crt .cer .pem .der .p7b .p7c`.
//! - CVE ids: `CVE-YYYY-NNNN…`, upper-cased, de-duplicated.
//! - Config keys: dotted lower-case identifiers with at least three parts
//!   (`dten.hybrid.enable`) in a sentence that also says deprecated, removed, obsolete,
//!   renamed, required or "must be set"; host names and file names are left out.

use std::sync::LazyLock;

use regex::Regex;
use rustls_pki_types::CertificateDer;

use crate::trust::{import, Fingerprint};

/// At most this many items of each kind from one entry.
pub const MAX_ITEMS: usize = 100;

/// What one entry's text mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub sha256: Vec<Fingerprint>,
    /// 40-hex fingerprints (SHA-1 certificate fingerprints, OpenPGP v4 key ids), lowercase.
    pub sha1: Vec<String>,
    pub certificates: Vec<CertificateDer<'static>>,
    pub cert_links: Vec<String>,
    pub cves: Vec<String>,
    pub config_keys: Vec<String>,
}

static HEX_RUN: LazyLock<Regex> = LazyLock::new(|| {
    // Pairs or groups of hex digits with at most two separators between them.
    Regex::new(r"(?i)\b[0-9a-f]{2,}(?:[ \t:\-]{1,2}[0-9a-f]{2,})*\b").expect("static regex")
});
static CVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bCVE-(\d{4})-(\d{4,7})\b").expect("static regex"));
static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)https?://[^\s"'<>()\[\]]+"#).expect("static regex"));
static KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[a-z][a-z0-9_\-]*(?:\.[a-z][a-z0-9_\-]*){2,}\b").expect("static regex")
});
static DEPRECATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)deprecat|removed|no longer (?:supported|used|read)|obsolete|renamed|must be set|is required|are required|now required")
        .expect("static regex")
});

/// How far before a bare hex run a label may stand (characters).
const LABEL_WINDOW: usize = 100;
const LABELS: [&str; 6] = [
    "fingerprint",
    "sha256",
    "sha-256",
    "sha1",
    "sha-1",
    "thumbprint",
];
const CERT_EXTENSIONS: [&str; 6] = [".crt", ".cer", ".pem", ".der", ".p7b", ".p7c"];
const NOT_KEYS: [&str; 14] = [
    ".com", ".org", ".net", ".io", ".example", ".pem", ".crt", ".zip", ".json", ".xml", ".html",
    ".tar", ".gz", ".sh",
];

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if list.len() < MAX_ITEMS && !list.contains(&item) {
        list.push(item);
    }
}

/// Extract everything from `text`.
pub fn extract(text: &str) -> Extracted {
    let mut out = Extracted::default();
    fingerprints(text, &mut out);
    out.certificates = certificates(text);
    for m in URL.find_iter(text) {
        let url = m.as_str().trim_end_matches(['.', ',', ';', ':']);
        let path = url
            .split(['?', '#'])
            .next()
            .unwrap_or(url)
            .to_ascii_lowercase();
        if CERT_EXTENSIONS.iter().any(|e| path.ends_with(e)) {
            push_unique(&mut out.cert_links, url.to_owned());
        }
    }
    for c in CVE.captures_iter(text) {
        push_unique(&mut out.cves, format!("CVE-{}-{}", &c[1], &c[2]));
    }
    out.config_keys = config_keys(text);
    out
}

fn fingerprints(text: &str, out: &mut Extracted) {
    // End of the last accepted fingerprint: a list ("… or …", "…, …") inherits its label.
    let mut last_end: Option<usize> = None;
    for m in HEX_RUN.find_iter(text) {
        let raw = m.as_str();
        let Some(digits) = fingerprint_window(raw) else {
            continue;
        };
        let separated = raw.contains([':', ' ', '-', '\t']);
        let window_start = text[..m.start()]
            .char_indices()
            .rev()
            .nth(LABEL_WINDOW)
            .map_or(0, |(i, _)| i);
        let before = text[window_start..m.start()].to_ascii_lowercase();
        let labelled = LABELS.iter().any(|l| before.contains(l));
        let in_list = last_end.is_some_and(|end| {
            let gap = &text[end..m.start()];
            gap.len() <= 12 && !gap.contains('\n')
        });
        if !(separated || labelled || in_list) {
            continue;
        }
        last_end = Some(m.end());
        let lower = digits.to_ascii_lowercase();
        if lower.len() == 64 {
            if let Ok(fp) = lower.parse::<Fingerprint>() {
                push_unique(&mut out.sha256, fp);
            }
        } else {
            push_unique(&mut out.sha1, lower);
        }
    }
}

/// The hex digits of a fingerprint inside a run of hex groups: the first run of whole
/// groups with exactly 64 digits, else exactly 40. A label's digits glued to the front
/// ("SHA-256: AB CD…" reads "256", "AB", "CD"…) are skipped this way.
fn fingerprint_window(raw: &str) -> Option<String> {
    let groups: Vec<&str> = raw
        .split([' ', '\t', ':', '-'])
        .filter(|g| !g.is_empty())
        .collect();
    if groups.len() > 256 {
        return None;
    }
    for target in [64, 40] {
        for start in 0..groups.len() {
            let mut len = 0;
            for (end, g) in groups.iter().enumerate().skip(start) {
                len += g.len();
                if len == target {
                    return Some(groups[start..=end].concat());
                }
                if len >= target {
                    break;
                }
            }
        }
    }
    None
}

/// Every PEM certificate (or PKCS#7/CMS bundle) block in the text that parses.
fn certificates(text: &str) -> Vec<CertificateDer<'static>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = after.find(&end_marker) else {
            break;
        };
        let block = &rest[start..start + 11 + end + end_marker.len()];
        if matches!(label, "CERTIFICATE" | "X509 CERTIFICATE" | "PKCS7" | "CMS") {
            if let Ok(certs) = import::parse_certificates(block.as_bytes()) {
                for c in certs {
                    push_unique(&mut out, c);
                }
            }
        }
        rest = &after[end + end_marker.len()..];
    }
    out
}

fn config_keys(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sentence in text.split(['\n', '!', '?']).flat_map(|l| l.split(". ")) {
        if !DEPRECATION.is_match(sentence) {
            continue;
        }
        for m in KEY.find_iter(sentence) {
            let key = m.as_str();
            let ends_like_name = NOT_KEYS.iter().any(|s| key.ends_with(s));
            let in_url = sentence[..m.start()].ends_with("://")
                || sentence[..m.start()].ends_with('/')
                || sentence[m.end()..].starts_with('/');
            if !ends_like_name && !in_url {
                push_unique(&mut out, key.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6";

    fn colons(hex: &str, upper: bool) -> String {
        let h = if upper {
            hex.to_ascii_uppercase()
        } else {
            hex.to_owned()
        };
        h.as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":")
    }

    #[test]
    fn fingerprints_in_the_forms_vendors_write() {
        let fp: Fingerprint = FP.parse().unwrap();
        for text in [
            format!("SHA256 Fingerprint={}", colons(FP, true)),
            format!("sha256:{FP}"),
            format!(
                "The new CA's fingerprint is {} (SHA-256).",
                colons(FP, false)
            ),
            format!("SHA-256: {}", colons(FP, true).replace(':', " ")),
            format!("thumbprint {}", colons(FP, false).replace(':', "-")),
        ] {
            assert_eq!(extract(&text).sha256, vec![fp], "{text}");
        }
        // A bare checksum in prose is not a key.
        assert!(extract(&format!("the tarball's checksum is {FP}"))
            .sha256
            .is_empty());
        // OpenPGP v4 fingerprints, grouped by four with a double space in the middle.
        let pgp = "Key fingerprint = 81F5 E283 2BD2 545A 1897  B713 AA99 442F B680 B620";
        assert_eq!(
            extract(pgp).sha1,
            vec!["81f5e2832bd2545a1897b713aa99442fb680b620"]
        );
        // A git commit id without a label is not.
        assert!(extract("fixed in 81f5e2832bd2545a1897b713aa99442fb680b620")
            .sha1
            .is_empty());
    }

    #[test]
    fn the_corpus_announcements() {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/pages/announcements/"
        );
        let Ok(samba) = std::fs::read_to_string(format!(
            "{root}samba-GPG_AA99442FB680B620_replaces_6F33915B6568B7EA.txt"
        )) else {
            eprintln!("corpus absent: skipped");
            return;
        };
        let e = extract(&samba);
        assert_eq!(
            e.sha1,
            vec![
                "52fbc0b86d954b0843324cdc6f33915b6568b7ea",
                "81f5e2832bd2545a1897b713aa99442fb680b620"
            ]
        );
        let openssl =
            std::fs::read_to_string(format!("{root}openssl-doc-fingerprints.txt")).unwrap();
        assert_eq!(extract(&openssl).sha1.len(), 3);
    }

    #[test]
    fn certificates_links_cves_and_config_keys() {
        let pem_path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/examples/dten/new-root.pem"
        );
        let pem = std::fs::read_to_string(pem_path).unwrap();
        // As a forum renders it: inside prose, with CRLF line ends.
        let text = format!(
            "Our new CA:\r\n{}\r\nDownload https://pki.dten.example/ca/dten-2026.crt or \
             https://pki.dten.example/ca/bundle.p7b?v=2. Fixes CVE-2026-1234 and cve-2025-99999. \
             The key dten.legacy.discovery is deprecated; dten.hybrid.enable must be set to true. \
             See docs.dten.example for dten.other.setting details.",
            pem.replace('\n', "\r\n")
        );
        let e = extract(&text);
        assert_eq!(e.certificates.len(), 1);
        assert_eq!(
            e.cert_links,
            vec![
                "https://pki.dten.example/ca/dten-2026.crt",
                "https://pki.dten.example/ca/bundle.p7b?v=2"
            ]
        );
        assert_eq!(e.cves, vec!["CVE-2026-1234", "CVE-2025-99999"]);
        assert_eq!(
            e.config_keys,
            vec!["dten.legacy.discovery", "dten.hybrid.enable"]
        );
    }

    #[test]
    fn hostile_text_is_bounded_and_safe() {
        let many: String = (0..1000).map(|i| format!("CVE-2026-{i:05} ")).collect();
        assert_eq!(extract(&many).cves.len(), MAX_ITEMS);
        let junk =
            "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n-----BEGIN ";
        assert!(extract(junk).certificates.is_empty());
        let _ = extract(&"ab:".repeat(100_000));
        let _ = extract("\u{1F600}fingerprint ☃ 00");
    }
}
