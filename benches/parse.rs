//! Benchmarks of the pure text paths every poll runs (README "Performance"): advisory
//! extraction (fingerprints, certificates, CVE ids, configuration keys) and
//! classification from an entry's text, and feed parsing.
//!
//! Inputs: a generated advisory carrying a PEM certificate made with rcgen at setup, a
//! generated 50-item RSS 2.0 feed shaped like `scripts/load_server.py`'s, and, when
//! `../shared/corpus/` is beside the repository, real feeds and announcements from it
//! (its README names their origins). Only the library's public API is used.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
use trustwatch::advisory::{self, extract, kind};
use trustwatch::sources::{self, Entry};

/// The corpus folder, when present (it is not part of the repository).
fn corpus(rel: &str) -> Option<(String, Vec<u8>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(rel);
    let bytes = std::fs::read(&path).ok()?;
    let name = path.file_name()?.to_string_lossy().into_owned();
    Some((name, bytes))
}

/// A rotation announcement as vendors write them: prose, a PEM certificate, its
/// SHA-256 in colon form, an SHA-1, CVE ids, a configuration key and links.
fn generated_advisory() -> String {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "Bench Code Signing 2026");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let fp = trustwatch::trust::Fingerprint::of(cert.der());
    let colons = fp
        .to_hex()
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let mut text = String::from(
        "Code-signing CA rotation. We are rotating the certificate authority that signs \
         firmware and full-upgrade packages. Packages released after 2026-03-01 are signed \
         under the new root; the old root is cross-signed until it expires.\n\n",
    );
    for i in 0..20 {
        let _ = writeln!(
            text,
            "Paragraph {i}: the management interface fix is tracked as CVE-2026-{:05}; set \
             dten.hybrid.enable to false on older releases. See \
             https://dten.example/security/advisory-{i} for details.",
            1000 + i
        );
    }
    let _ = write!(
        text,
        "\nNew root certificate (SHA-256 fingerprint {colons}, SHA-1 \
         0123456789abcdef0123456789abcdef01234567):\n\n{}\n\
         Download it from https://dten.example/pki/new-root.crt.\n",
        cert.pem()
    );
    text
}

/// An RSS 2.0 feed of `n` advisories, like `scripts/load_server.py` serves.
fn generated_feed(n: usize) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Vendor feed</title><link>https://vendor.example/security</link>\
         <description>bench</description>",
    );
    for i in 0..n {
        let day = 1 + i % 28;
        let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"][i % 6];
        if i % 5 == 4 {
            let _ = write!(
                xml,
                "<item><title>Release notes 1.{i}</title>\
                 <link>https://vendor.example/security/bench-{i}</link>\
                 <guid>bench-{i}</guid><pubDate>Mon, {day:02} {month} 2025 10:00:00 GMT</pubDate>\
                 <description>Performance improvements and a new dashboard layout.</description></item>"
            );
        } else {
            let _ = write!(
                xml,
                "<item><title>Security advisory CVE-2025-{i:05}: remote code execution</title>\
                 <link>https://vendor.example/security/bench-{i}</link>\
                 <guid>bench-{i}</guid><pubDate>Mon, {day:02} {month} 2025 10:00:00 GMT</pubDate>\
                 <description>A vulnerability in the management interface allows remote code \
                 execution. Update to the fixed release. Tracked as CVE-2025-{i:05}.</description></item>"
            );
        }
    }
    xml.push_str("</channel></rss>\n");
    xml.into_bytes()
}

fn bench_extract(c: &mut Criterion) {
    let mut texts = vec![("generated-rotation".to_owned(), generated_advisory())];
    for rel in [
        "pages/announcements/letsencrypt-2024-03-19-new-intermediate-certificates.md",
        "pages/announcements/openssl-doc-fingerprints.txt",
        "pages/announcements/samba-GPG_AA99442FB680B620_replaces_6F33915B6568B7EA.txt",
    ] {
        if let Some((name, bytes)) = corpus(rel) {
            texts.push((name, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    let mut g = c.benchmark_group("extract");
    for (name, text) in &texts {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("extract", name), text, |b, t| {
            b.iter(|| extract::extract(black_box(t)));
        });
        let ex = extract::extract(text);
        g.bench_with_input(BenchmarkId::new("classify", name), text, |b, t| {
            b.iter(|| kind::classify("", black_box(t), &ex));
        });
        let entry = Entry {
            id: name.clone(),
            title: "Code-signing CA rotation".into(),
            url: "https://vendor.example/security/rotation".into(),
            published: None,
            text: text.clone(),
            links: Vec::new(),
        };
        g.bench_with_input(BenchmarkId::new("understand", name), &entry, |b, e| {
            b.iter(|| advisory::understand(black_box(e), "dten"));
        });
    }
    g.finish();
}

fn bench_feeds(c: &mut Criterion) {
    let mut feeds = vec![("generated-rss-50".to_owned(), generated_feed(50))];
    for rel in [
        "feeds/ghsa-rust.atom.rss",
        "feeds/ghsa-rust.jsonfeed.json",
        "feeds/vulncheck-kev.rss.xml",
        "feeds/debian-news.rdf.xml",
    ] {
        if let Some(found) = corpus(rel) {
            feeds.push(found);
        }
    }
    let base = "https://vendor.example/security/feed.xml";
    let mut g = c.benchmark_group("feed");
    for (name, bytes) in &feeds {
        let entries = sources::parse_feed(bytes, base).expect("the bench feeds parse");
        assert!(!entries.is_empty(), "{name}: no entries");
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("parse", name), bytes, |b, f| {
            b.iter(|| sources::parse_feed(black_box(f), base));
        });
        // What a poll does per document: parse, then understand every entry.
        g.bench_with_input(BenchmarkId::new("parse_understand", name), bytes, |b, f| {
            b.iter(|| {
                let entries = sources::parse_feed(black_box(f), base).unwrap_or_default();
                entries
                    .iter()
                    .filter_map(|e| advisory::understand(e, "vendor").finding)
                    .count()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench_extract, bench_feeds);
criterion_main!(benches);
