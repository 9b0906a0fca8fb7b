//! Hostile feeds, pages and servers against the real binary (`poll --once`): XML entity
//! bombs and external entities, a feed of hundreds of MiB and a gzip bomb over loopback,
//! a server that trickles bytes, redirect loops and long chains, HTML nested 100,000
//! deep and pages a million elements wide. Each ends in a `source_error` that says what
//! happened (or entries read without the hostile part), in bounded time and memory,
//! never a panic. `FIGURE` lines in the test log are what the README quotes.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::http::{Response, Server};
use common::{Env, Measured};

/// An environment whose config has `http` settings and one source (a feed or a page).
fn env_with(http: &str, source: &str) -> Env {
    let env = Env::new();
    env.write(
        "trustwatch.toml",
        format!(
            "[store]\npath = {:?}\n\n[http]\n{http}\n\n[[vendor]]\nname = \"dten\"\n\n{source}\n",
            env.path("data").display().to_string(),
        ),
    );
    env
}

fn feed_source(url: &str) -> String {
    format!("[[vendor.feed]]\nurl = \"{url}\"\n")
}

fn page_source(url: &str) -> String {
    format!("[[vendor.page]]\nurl = \"{url}\"\nitem_selector = \"article.post\"\n")
}

/// `poll --once --format json`, measured; the findings it printed.
fn poll(env: &Env) -> (Measured, Vec<serde_json::Value>) {
    let m = env.run_measured(&["poll", "--once", "--format", "json"]);
    assert!(!m.stderr.contains("panicked"), "{}", m.stderr);
    assert_eq!(m.code, 0, "stdout: {}\nstderr: {}", m.stdout, m.stderr);
    let findings = m
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (m, findings)
}

/// The one finding, which must be a source error; its summary.
#[track_caller]
fn source_error(findings: &[serde_json::Value]) -> String {
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["kind"], "source_error", "{findings:#?}");
    findings[0]["summary"].as_str().unwrap().to_owned()
}

fn file_url(env: &Env, name: &str, body: impl AsRef<[u8]>) -> String {
    format!("file://{}", env.write(name, body).display())
}

#[test]
fn entity_bombs_and_external_entities_expand_nothing() {
    // Billion laughs: ten levels of ten, 10^9 "lol"s if expanded.
    let mut dtd = String::from("<!ENTITY lol0 \"lol\">");
    for i in 1..10 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{i} \"{refs}\">"));
    }
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE rss [{dtd}]><rss version=\"2.0\"><channel><title>t</title>\
         <item><guid>a</guid><title>Advisory &lol9;</title><description>CVE-2026-1111 &lol9;</description></item></channel></rss>"
    );
    // Quadratic blowup: one 64 KiB entity referenced 20,000 times (1.3 GB if expanded).
    let quadratic = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY a \"{}\">]><rss version=\"2.0\"><channel><title>t</title>\
         <item><guid>q</guid><title>Advisory</title><description>CVE-2026-1112 {}</description></item></channel></rss>",
        "a".repeat(64 << 10),
        "&a;".repeat(20_000)
    );
    // External entities (XXE): a file, a parameter entity, and a URL.
    let xxe_rss = "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">\
         <!ENTITY % remote SYSTEM \"http://127.0.0.1:9/evil.dtd\"> %remote;]>\
         <rss version=\"2.0\"><channel><title>t</title><item><guid>x</guid><title>Advisory &xxe;</title>\
         <description>CVE-2026-2222 &xxe;</description></item></channel></rss>";
    let xxe_atom = "<?xml version=\"1.0\"?><!DOCTYPE feed [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
         <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><id>urn:t</id><updated>2026-11-01T00:00:00Z</updated>\
         <entry><id>urn:x</id><title>Advisory &xxe;</title><updated>2026-11-01T00:00:00Z</updated>\
         <content type=\"html\">CVE-2026-3333 &amp;xxe; &xxe;</content></entry></feed>";
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let secret = passwd.lines().next().unwrap_or("root:x:0:0").to_owned();
    for (label, body) in [
        ("billion laughs", laughs),
        ("quadratic blowup", quadratic),
        ("external entity (RSS)", xxe_rss.to_owned()),
        ("external entity (Atom)", xxe_atom.to_owned()),
    ] {
        let env = Env::new();
        let url = file_url(&env, "feed.xml", &body);
        let env = {
            env.write(
                "trustwatch.toml",
                format!(
                    "[store]\npath = {:?}\n\n[[vendor]]\nname = \"dten\"\n\n{}",
                    env.path("data").display().to_string(),
                    feed_source(&url)
                ),
            );
            env
        };
        let (m, findings) = poll(&env);
        let out = m.stdout.clone();
        assert!(
            out.len() < 2 << 20,
            "{label}: {} bytes of findings",
            out.len()
        );
        assert!(
            !out.contains("lollollol"),
            "{label}: an entity was expanded"
        );
        assert!(!out.contains(&"a".repeat(1 << 16)), "{label}: expanded");
        assert!(!out.contains(&secret), "{label}: /etc/passwd leaked");
        assert!(
            m.elapsed < Duration::from_secs(10),
            "{label}: {:?}",
            m.elapsed
        );
        assert!(m.peak < 128 << 20, "{label}: peak {} MiB", m.peak >> 20);
        let what: Vec<String> = findings
            .iter()
            .map(|f| format!("{}: {}", f["kind"], f["title"]))
            .collect();
        m.figure(&format!("{label} ({} bytes): {what:?}", body.len()));
    }
}

/// A server that answers every request with `head` and then `total` bytes made by
/// `fill` in 64 KiB pieces, streamed (never held in memory). Returns its base URL.
fn streaming_server(head: String, total: u64, fill: fn(&mut [u8])) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let head = head.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let mut block = vec![0u8; 64 << 10];
                fill(&mut block);
                let mut sent = 0u64;
                while sent < total {
                    let n = usize::try_from((total - sent).min(block.len() as u64)).unwrap();
                    if stream.write_all(&block[..n]).is_err() {
                        return; // the client hung up: the cap worked
                    }
                    sent += n as u64;
                }
            });
        }
    });
    base
}

/// RSS items, repeated: what a feed of hundreds of MiB is made of.
fn items(block: &mut [u8]) {
    let item =
        b"<item><title>Advisory</title><description>CVE-2026-4242 fixed.</description></item>\n";
    for (i, b) in block.iter_mut().enumerate() {
        *b = item[i % item.len()];
    }
}

#[test]
fn a_feed_of_hundreds_of_mib_is_cut_at_max_download() {
    const SIZE: u64 = 512 << 20;
    // Declared: refused on the header, before the body is read.
    let declared = streaming_server(
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\ncontent-length: {SIZE}\r\n\r\n<rss version=\"2.0\"><channel>"),
        SIZE,
        items,
    );
    // Undeclared (the connection's end marks the body's): cut while streaming.
    let streamed = streaming_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\nconnection: close\r\n\r\n<rss version=\"2.0\"><channel>".into(),
        SIZE,
        items,
    );
    for (label, base) in [("declared length", declared), ("no length", streamed)] {
        let env = env_with(
            "timeout = \"60s\"",
            &feed_source(&format!("{base}/feed.xml")),
        );
        let (m, findings) = poll(&env);
        let why = source_error(&findings);
        assert!(
            why.contains("larger than http.max_download"),
            "{label}: {why}"
        );
        // The default cap is 64 MiB: the body buffer holds at most that.
        assert!(m.peak < 160 << 20, "{label}: peak {} MiB", m.peak >> 20);
        m.figure(&format!("{} MiB feed, {label}: {why}", SIZE >> 20));
    }
}

#[test]
fn a_gzip_bomb_is_cut_at_max_download_on_the_inflated_bytes() {
    // 2 GiB of zeros behind an RSS start, gzipped to about 2 MiB (RFC 1952: header,
    // deflate, CRC-32, size mod 2^32), served as Content-Encoding: gzip.
    const GIB: u64 = 2;
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend(common::deflated_zeros(GIB << 10));
    gz.extend(common::zeros_crc(GIB << 30).sum().to_le_bytes());
    gz.extend(0u32.to_le_bytes());
    let size = gz.len();
    let server = Server::start();
    server.handle(move |_| {
        Response::ok(gz.clone())
            .header("content-encoding", "gzip")
            .header("content-type", "application/rss+xml")
    });
    let env = env_with(
        "timeout = \"60s\"\nmax_download = \"16MiB\"",
        &feed_source(&server.url("/feed.xml")),
    );
    let (m, findings) = poll(&env);
    let why = source_error(&findings);
    assert!(why.contains("larger than http.max_download"), "{why}");
    assert!(m.peak < 96 << 20, "peak {} MiB", m.peak >> 20);
    m.figure(&format!(
        "gzip bomb {} KiB -> {GIB} GiB, max_download 16MiB: {why}",
        size >> 10
    ));
}

#[test]
fn a_server_that_trickles_bytes_times_out_at_http_timeout() {
    // The body, one byte a second.
    let server = Server::start();
    server.handle(|_| {
        Response::ok(b"<rss version=\"2.0\"><channel><title>slow</title></channel></rss>".to_vec())
            .trickled(1, Duration::from_secs(1))
    });
    // The head itself, one byte a second (no body ever starts).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let slow_head = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                for b in b"HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\nx-padding: "
                    .iter()
                    .cycle()
                {
                    if stream.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
    });
    for (label, url) in [
        ("body at 1 byte/s", server.url("/feed.xml")),
        ("head at 1 byte/s", format!("{slow_head}/feed.xml")),
    ] {
        let env = env_with(
            "timeout = \"3s\"\nconnect_timeout = \"1s\"",
            &feed_source(&url),
        );
        let (m, findings) = poll(&env);
        let why = source_error(&findings);
        assert!(why.contains("timed out (http.timeout)"), "{label}: {why}");
        assert!(
            m.elapsed < Duration::from_secs(8),
            "{label}: {:?}",
            m.elapsed
        );
        m.figure(&format!("{label}, http.timeout 3s: {why}"));
    }
}

#[test]
fn redirect_loops_and_long_chains_stop_at_max_redirects() {
    let server = Server::start();
    let base = server.base.clone();
    server.handle(move |req| {
        let to = match req.path.as_str() {
            "/a" => "/b".to_owned(),
            "/b" => "/a".to_owned(),
            p if p.starts_with("/chain/") => {
                let n: u32 = p["/chain/".len()..].parse().unwrap_or(0);
                format!("/chain/{}", n + 1)
            }
            _ => return Response::status(404),
        };
        Response::status(302).header("location", &format!("{base}{to}"))
    });
    for (label, path) in [("A -> B -> A", "/a"), ("a chain of 1,000", "/chain/0")] {
        let before = server.requests().len();
        let env = env_with(
            "timeout = \"5s\"\nmax_redirects = 5",
            &feed_source(&server.url(path)),
        );
        let (m, findings) = poll(&env);
        let why = source_error(&findings);
        assert!(why.contains("redirect"), "{label}: {why}");
        let asked = server.requests().len() - before;
        assert_eq!(asked, 6, "{label}: the first request and 5 redirects");
        m.figure(&format!("{label}, max_redirects 5: {why}"));
    }
}

#[test]
fn html_nested_100k_deep_or_a_million_wide_is_bounded() {
    let deep = "<div>".repeat(100_000) + "<article class=post>x</article>";
    // Stray end tags the tree builder ignores, so a naive tag count sees depth 1.
    let disguised = "<div></x>".repeat(100_000) + "<article class=post>x</article>";
    let deep_post = format!("<article class=post>{}</article>", "<span>".repeat(100_000));
    // Wide: 5,000 posts (what `sources::MAX_ENTRIES` takes) among 240,000 elements, and
    // a million elements (past the page's element cap).
    let wide = "<article class=post><p>CVE-2026-5555</p></article>\n".repeat(5_000)
        + &"<p>x</p>".repeat(230_000);
    let wider = "<article class=post><p>CVE-2026-5555</p></article>\n".repeat(200_000)
        + &"<p>x</p>".repeat(600_000);
    for (label, html) in [
        ("100,000 nested <div>", deep),
        ("100,000 <div> with stray </x>", disguised),
        ("a post holding 100,000 nested <span>", deep_post),
        ("5,000 posts and 230,000 <p>", wide),
        ("200,000 posts and 600,000 <p>", wider),
    ] {
        let env = Env::new();
        let url = file_url(&env, "page.html", &html);
        env.write(
            "trustwatch.toml",
            format!(
                "[store]\npath = {:?}\n\n[[vendor]]\nname = \"dten\"\n\n{}",
                env.path("data").display().to_string(),
                page_source(&url)
            ),
        );
        let (m, findings) = poll(&env);
        assert!(
            m.elapsed < Duration::from_secs(20),
            "{label}: {:?}",
            m.elapsed
        );
        assert!(m.peak < 512 << 20, "{label}: peak {} MiB", m.peak >> 20);
        let kinds: std::collections::BTreeMap<String, usize> =
            findings.iter().fold(Default::default(), |mut acc, f| {
                *acc.entry(f["kind"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
                acc
            });
        let errors: Vec<&str> = findings
            .iter()
            .filter(|f| f["kind"] == "source_error")
            .filter_map(|f| f["summary"].as_str())
            .collect();
        m.figure(&format!(
            "{label} ({} KiB): {kinds:?} {errors:?}",
            html.len() >> 10
        ));
    }
}

#[test]
fn html_nested_deep_inside_a_feed_entry_is_bounded() {
    // A feed whose description is escaped HTML nested 100,000 deep.
    let nested = "&lt;div&gt;".repeat(100_000);
    let rss = format!(
        "<rss version=\"2.0\"><channel><title>t</title><item><guid>d</guid><title>Advisory</title>\
         <description>CVE-2026-6666 {nested}</description></item></channel></rss>"
    );
    let env = Env::new();
    let url = file_url(&env, "feed.xml", &rss);
    env.write(
        "trustwatch.toml",
        format!(
            "[store]\npath = {:?}\n\n[[vendor]]\nname = \"dten\"\n\n{}",
            env.path("data").display().to_string(),
            feed_source(&url)
        ),
    );
    let (m, findings) = poll(&env);
    assert!(m.elapsed < Duration::from_secs(20), "{:?}", m.elapsed);
    let what: Vec<String> = findings
        .iter()
        .map(|f| format!("{}: {}", f["kind"], f["summary"].as_str().unwrap_or("")))
        .map(|s| s.chars().take(200).collect())
        .collect();
    m.figure(&format!(
        "feed entry with HTML nested 100,000 deep ({} KiB): {what:?}",
        rss.len() >> 10
    ));
}
