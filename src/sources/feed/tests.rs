//! Feed parsing over the real corpus feeds and the malformed ones from feed readers'
//! test suites.

use super::*;

fn corpus(rel: &str) -> Option<Vec<u8>> {
    let p = format!(
        "{}/../shared/corpus/feeds/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).ok().or_else(|| {
        eprintln!("{p} absent: skipped");
        None
    })
}

#[test]
fn real_feeds_parse() {
    for (file, min) in [
        ("ghsa-rust.atom.rss", 18),
        ("ghsa-rust.jsonfeed.json", 18),
        ("vulncheck-kev.rss.xml", 10),
        ("debian-news.rdf.xml", 1),
        ("cloudflare-blog.rss.xml", 1),
        ("rss-0.91-writetheweb.xml", 2),
        ("rss-0.92-scripting-news.xml", 3),
    ] {
        let Some(bytes) = corpus(file) else { return };
        let entries =
            parse_feed(&bytes, "https://feeds.example/x").unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(entries.len() >= min, "{file}: {}", entries.len());
        let mut ids: Vec<_> = entries.iter().map(|e| e.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), entries.len(), "{file}: ids must be unique");
        assert!(entries.iter().all(|e| !e.id.is_empty()), "{file}");
    }
    let Some(kev) = corpus("vulncheck-kev.rss.xml") else {
        return;
    };
    let entries = parse_feed(&kev, "https://feeds.example/kev").unwrap();
    assert!(
        entries.iter().any(|e| e.text.contains("CVE-")),
        "CVE ids must survive HTML escaping"
    );
}

#[test]
fn ids_are_stable_across_parses() {
    let Some(bytes) = corpus("rss-0.92-scripting-news.xml") else {
        return;
    };
    let a = parse_feed(&bytes, "https://x/").unwrap();
    let b = parse_feed(&bytes, "https://x/").unwrap();
    assert_eq!(a, b);
}

#[test]
fn malformed_feeds_are_read_or_refused_with_a_reason() {
    let Some(dir) = std::fs::read_dir(format!(
        "{}/../shared/corpus/feeds/malformed",
        env!("CARGO_MANIFEST_DIR")
    ))
    .ok() else {
        return;
    };
    for f in dir {
        let path = f.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        match parse_feed(&bytes, "https://x/") {
            Ok(_) => {}
            Err(e) => assert!(!e.to_string().is_empty(), "{}", path.display()),
        }
    }
    // The BOM and leading-space ones must be read.
    for ok in [
        "gofeed-rss_feed_bom.xml",
        "gofeed-rss_feed_leading_spaces.xml",
    ] {
        let bytes = corpus(&format!("malformed/{ok}")).unwrap();
        assert!(parse_feed(&bytes, "https://x/").is_ok(), "{ok}");
    }
    assert!(matches!(
        parse_feed(b"", "https://x/"),
        Err(SourceError::NotAFeed(_))
    ));
    assert!(matches!(
        parse_feed(b"<note>hi</note>", "https://x/"),
        Err(SourceError::NotAFeed(_))
    ));
}

#[test]
fn rss_without_version_and_entries_without_ids() {
    let xml = br#"<rss><channel><title>t</title><item><title>No guid</title><description>&lt;p&gt;SHA-256 fingerprint &lt;code&gt;x&lt;/code&gt;&lt;/p&gt;</description></item></channel></rss>"#;
    let entries = parse_feed(xml, "https://dten.example/feed").unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].id.starts_with("sha256:"));
    assert!(
        entries[0].text.contains("SHA-256 fingerprint"),
        "{}",
        entries[0].text
    );
    // An entity bomb stays an unexpanded entity, in bounded time.
    let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><rss version="2.0"><channel><item><title>&lol2;</title></item></channel></rss>"#;
    let _ = parse_feed(bomb, "https://x/");
}
