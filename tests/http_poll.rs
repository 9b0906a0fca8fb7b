//! `poll --once` against a real HTTP server on loopback: conditional GET (304), Retry-After,
//! 500s then recovery, timeouts, oversize bodies, malformed feeds, pagination limits, the
//! user agent, and certificate links behind the address guard.

mod common;

use std::time::Duration;

use common::http::{Response, Server};
use common::{Alg, Env, Identity};

fn env_for(server: &Server, extra_http: &str) -> Env {
    let env = Env::new();
    let config = format!(
        "[store]\npath = {:?}\n\n[http]\nuser_agent = \"trustwatch-test/1\"\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\nmax_download = \"64KiB\"\n{extra_http}\n\n[[vendor]]\nname = \"dten\"\n\n[[vendor.feed]]\nurl = \"{}\"\n",
        env.path("data").display().to_string(),
        server.url("/feed.xml"),
    );
    env.write("trustwatch.toml", config);
    env
}

fn rss(body: &str) -> String {
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>DTEN</title>{body}</channel></rss>")
}

fn advisory() -> String {
    rss("<item><guid>sa-1</guid><title>Security advisory</title><link>https://dten.example/sa-1</link><description>Fixes CVE-2026-4242.</description></item>")
}

fn poll(env: &Env) -> Vec<serde_json::Value> {
    env.poll_json()
}

#[test]
fn conditional_get_and_user_agent() {
    let server = Server::start();
    let body = advisory();
    server.handle(move |req| {
        if req.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
            Response::status(304)
        } else {
            Response::ok(body.clone())
                .header("ETag", "\"v1\"")
                .header("Last-Modified", "Mon, 02 Nov 2026 08:00:00 GMT")
        }
    });
    let env = env_for(&server, "");
    assert_eq!(poll(&env).len(), 1);
    assert!(poll(&env).is_empty());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].headers.get("user-agent").map(String::as_str),
        Some("trustwatch-test/1")
    );
    assert_eq!(
        reqs[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    assert_eq!(
        reqs[1].headers.get("if-modified-since").map(String::as_str),
        Some("Mon, 02 Nov 2026 08:00:00 GMT")
    );
}

#[test]
fn retry_after_is_honoured() {
    let server = Server::start();
    server.handle(|_| Response::status(429).header("Retry-After", "3600"));
    let env = env_for(&server, "");
    let f = poll(&env);
    assert_eq!(f[0]["kind"], "source_error");
    assert!(f[0]["summary"].as_str().unwrap().contains("429"), "{f:#?}");
    assert!(poll(&env).is_empty());
    assert_eq!(
        server.count("/feed.xml"),
        1,
        "the server asked for an hour of quiet"
    );
}

#[test]
fn server_errors_then_recovery() {
    let server = Server::start();
    server.handle(|_| Response::status(500));
    let env = env_for(&server, "");
    assert_eq!(poll(&env)[0]["kind"], "source_error");
    assert!(poll(&env).is_empty(), "one source_error per failure streak");
    let body = advisory();
    server.handle(move |_| Response::ok(body.clone()));
    let f = poll(&env);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f[0]["title"].as_str().unwrap().contains("reachable again"));
    assert_eq!(f[1]["kind"], "advisory");
}

#[test]
fn timeouts_oversize_and_malformed_bodies_are_source_errors() {
    let server = Server::start();
    let env = env_for(&server, "");
    server.handle(|_| {
        let mut r = Response::ok(advisory());
        r.delay = Duration::from_secs(3);
        r
    });
    let f = poll(&env);
    assert!(
        f[0]["summary"].as_str().unwrap().contains("timed out"),
        "{f:#?}"
    );

    let server = Server::start();
    let env = env_for(&server, "");
    server.handle(|_| Response::ok(vec![b'x'; 100 << 10]));
    let f = poll(&env);
    assert!(
        f[0]["summary"].as_str().unwrap().contains("larger than"),
        "{f:#?}"
    );

    let server = Server::start();
    let env = env_for(&server, "");
    server.handle(|_| Response::ok("<rss version=\"2.0\"><channel><item><title>cut"));
    let f = poll(&env);
    assert_eq!(f[0]["kind"], "source_error", "{f:#?}");
}

fn rotation_linking(server: &Server) -> String {
    rss(&format!(
        "<item><guid>rot</guid><title>Code-signing CA rotation</title><link>https://dten.example/rot</link><description>We rotate our code-signing CA. Download the new root: {}</description></item>",
        server.url("/pki/new-root.crt")
    ))
}

#[test]
fn certificate_links_pass_the_address_guard() {
    let root = Identity::root("Linked root", Alg::P256);
    for (allow, fetched) in [(false, false), (true, true)] {
        let server = Server::start();
        let feed = rotation_linking(&server);
        let der = root.der.clone();
        server.handle(move |req| match req.path.as_str() {
            "/feed.xml" => Response::ok(feed.clone()),
            "/pki/new-root.crt" => Response::ok(der.clone()),
            _ => Response::status(404),
        });
        let env = env_for(&server, &format!("allow_private_addresses = {allow}"));
        let f = poll(&env);
        assert_eq!(f[0]["kind"], "ca_rotation");
        assert_eq!(
            server.count("/pki/new-root.crt"),
            usize::from(fetched),
            "allow={allow}"
        );
        let out = env.run(&["trust", "list", "--format", "json"]);
        let anchors: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            anchors
                .iter()
                .any(|a| a["sha256"] == root.sha256() && a["state"] == "candidate"),
            fetched
        );
        assert!(anchors.iter().all(|a| a["state"] != "approved"));
    }
}

#[test]
fn pagination_stays_on_the_configured_host() {
    let server = Server::start();
    let other = Server::start();
    let next_local = server.url("/t/4242?page=2");
    let next_other = other
        .url("/t/4242?page=3")
        .replace("127.0.0.1", "localhost");
    server.handle(move |req| match req.path.as_str() {
        "/t/4242" => Response::ok(format!(
            "<article class=post id=a><p>one</p></article><a rel=next href=\"{next_local}\">n</a>"
        )),
        "/t/4242?page=2" => Response::ok(format!(
            "<article class=post id=b><p>two</p></article><a rel=next href=\"{next_other}\">n</a>"
        )),
        _ => Response::status(404),
    });
    other.handle(|_| Response::ok("<article class=post id=c><p>three</p></article>"));
    let env = Env::new();
    env.write(
        "trustwatch.toml",
        format!(
            "[store]\npath = {:?}\n[[vendor]]\nname = \"dten\"\n[[vendor.page]]\nurl = \"{}\"\nitem_selector = \"article.post\"\nnext_selector = \"a[rel=next]\"\n",
            env.path("data").display().to_string(),
            server.url("/t/4242")
        ),
    );
    let _ = poll(&env);
    assert_eq!(server.count("/t/4242"), 1);
    assert_eq!(server.count("/t/4242?page=2"), 1);
    assert!(
        other.requests().is_empty(),
        "a next link to another host is not followed"
    );
}

#[test]
fn requests_to_one_host_are_paced() {
    let server = Server::start();
    let body = advisory();
    server.handle(move |_| Response::ok(body.clone()));
    let env = Env::new();
    let feeds: String = (0..4)
        .map(|i| {
            format!(
                "[[vendor.feed]]\nurl = \"{}\"\n",
                server.url(&format!("/feed-{i}.xml"))
            )
        })
        .collect();
    env.write(
        "trustwatch.toml",
        format!(
            "[store]\npath = {:?}\n[[vendor]]\nname = \"dten\"\n{feeds}",
            env.path("data").display().to_string()
        ),
    );
    let _ = poll(&env);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    for pair in reqs.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        // MIN_HOST_GAP is 250 ms; allow for clock granularity.
        assert!(gap >= Duration::from_millis(240), "requests {gap:?} apart");
    }
}

/// A host with many sources waiting for its pacing turns must not hold the global
/// in-flight slots: a request to another host goes out at once, not after the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_host_does_not_starve_another() {
    use std::sync::Arc;
    use trustwatch::fetch::{Fetcher, Trust, Validators};

    let busy = Server::start();
    busy.handle(|_| Response::ok("x"));
    let other = Server::start();
    other.handle(|_| Response::ok("y"));
    let fetcher = Arc::new(Fetcher::new(&trustwatch::config::Config::default().http).unwrap());
    let mut tasks = Vec::new();
    // More waiting requests to one host than there are global slots (16).
    for i in 0..24 {
        let (f, url) = (fetcher.clone(), busy.url(&format!("/a{i}")));
        tasks.push(tokio::spawn(async move {
            f.get(&url, Trust::Configured, &Validators::default()).await
        }));
    }
    // Let every busy request take its place in the queue first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let url = other.url("/b").replace("127.0.0.1", "localhost");
    fetcher
        .get(&url, Trust::Configured, &Validators::default())
        .await
        .expect("the other host answers");
    let served_before = busy.requests().len();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // 24 requests paced 250 ms apart take ~6 s; the other host was served after only a
    // few of them (with slots held while pacing, after ~9: the 24 - 16 + 1 that got
    // slots ahead of it).
    assert!(
        served_before <= 4,
        "the other host waited for {served_before} paced requests"
    );
    assert_eq!(busy.requests().len(), 24);
}
