//! The outbox and the webhook sink, through the library: real sled on disk, real poll
//! over file:// feeds, real HTTP to a recording server on loopback. Enqueue is atomic
//! with recording, unchanged entries enqueue nothing, updates get new ids, backfilled
//! and filtered findings are counted, retries honour Retry-After and back off, a
//! refused message is kept and shown, and a crash between send and mark re-sends with
//! the same id.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{Response, Server};
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;
use trustwatch::config::Config;
use trustwatch::fetch::Fetcher;
use trustwatch::notify::{self, webhook::WebhookSink, Budget, Notice, Sink};
use trustwatch::poll::poll_once;
use trustwatch::store::{Store, StoreOptions};

const SINK: &str = "webhook:ops";

struct Fixture {
    dir: tempfile::TempDir,
    config: Config,
}

fn item(guid: &str, days_ago: Option<i64>, description: &str) -> String {
    let date = days_ago
        .map(|d| {
            let t = OffsetDateTime::now_utc() - time::Duration::days(d);
            format!("<pubDate>{}</pubDate>", t.format(&Rfc2822).unwrap())
        })
        .unwrap_or_default();
    format!("<item><guid>{guid}</guid><title>Advisory {guid}</title><link>https://dten.example/{guid}</link>{date}<description>{description}</description></item>")
}

impl Fixture {
    fn new(chat: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[store]\npath = {:?}\n\n[http]\nallow_private_addresses = true\ntimeout = \"3s\"\nconnect_timeout = \"1s\"\n\n[chat]\n{chat}\n\n[[chat.webhook]]\nname = \"ops\"\nurl_env = \"TW_TEST_UNUSED\"\n\n[[vendor]]\nname = \"dten\"\n\n[[vendor.feed]]\nurl = \"file://{}\"\n",
            dir.path().join("data").display().to_string(),
            dir.path().join("feed.xml").display()
        );
        let config = Config::parse(&text, "test").unwrap();
        Self { dir, config }
    }

    fn feed(&self, items: &[String]) {
        let rss = format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>DTEN</title>{}</channel></rss>",
            items.concat()
        );
        std::fs::write(self.dir.path().join("feed.xml"), rss).unwrap();
    }

    fn store(&self) -> Store {
        Store::open(&self.dir.path().join("data"), StoreOptions::default()).unwrap()
    }

    async fn poll(&self, store: &Store) -> usize {
        let fetcher = Fetcher::new(&self.config.http).unwrap();
        poll_once(&self.config, store, &fetcher, OffsetDateTime::now_utc())
            .await
            .unwrap()
            .len()
    }

    fn sink(&self, server: &Server) -> WebhookSink {
        let url = url::Url::parse(&server.url("/hook/T0/B0/secret")).unwrap();
        WebhookSink::new("ops", url, &self.config.http).unwrap()
    }
}

fn posts(server: &Server) -> Vec<common::http::Request> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

#[tokio::test]
async fn enqueue_is_atomic_with_recording_once_per_content_and_updates_get_new_ids() {
    let fx = Fixture::new("");
    fx.feed(&[
        item("sa-1", Some(2), "Fixes CVE-2026-0001."),
        item("sa-2", None, "Fixes CVE-2026-0002."),
    ]);
    let store = fx.store();
    assert_eq!(fx.poll(&store).await, 2);
    let items = store.outbox_pending(SINK, 100).unwrap();
    assert_eq!(items.len(), 2);
    // Every recorded finding has its item, and nothing else is queued.
    let findings = store.findings().unwrap();
    assert_eq!(findings.len(), 2);
    for f in &findings {
        assert!(items.iter().any(|i| &i.finding == f), "{f:?}");
    }
    assert!(items
        .iter()
        .all(|i| i.id.len() <= 25 && !i.update && i.attempts == 0));
    assert_ne!(items[0].id, items[1].id);

    // Unchanged: nothing enqueued (also across a reopen).
    assert_eq!(fx.poll(&store).await, 0);
    drop(store);
    let store = fx.store();
    assert_eq!(fx.poll(&store).await, 0);
    assert_eq!(store.outbox_pending(SINK, 100).unwrap(), items);

    // An edit: one more item, an update, with a new id.
    fx.feed(&[
        item("sa-1", Some(2), "Fixes CVE-2026-0001 and CVE-2026-0003."),
        item("sa-2", None, "Fixes CVE-2026-0002."),
    ]);
    assert_eq!(fx.poll(&store).await, 1);
    let after = store.outbox_pending(SINK, 100).unwrap();
    assert_eq!(after.len(), 3);
    let new = &after[2];
    assert!(new.update);
    assert!(items.iter().all(|i| i.id != new.id));
    assert_eq!(new.finding.cves, ["CVE-2026-0001", "CVE-2026-0003"]);
}

#[tokio::test]
async fn backfilled_and_filtered_findings_are_recorded_counted_and_not_enqueued() {
    let fx = Fixture::new("notify = [\"ca_rotation\", \"key_revocation\", \"source_error\"]");
    fx.feed(&[
        item("old", Some(400), "Fixes CVE-2020-0001."),
        item("new", Some(1), "Fixes CVE-2026-0001."),
    ]);
    let store = fx.store();
    // The filtered advisory is still reported on stdout; the backfilled one is not.
    assert_eq!(fx.poll(&store).await, 1);
    assert_eq!(store.findings().unwrap().len(), 2);
    assert!(store.outbox_pending(SINK, 100).unwrap().is_empty());
    let st = notify::status(&store, &fx.config).unwrap();
    assert_eq!(st.not_posted.backfill.count, 1);
    assert_eq!(
        st.not_posted.backfill.last_title.as_deref(),
        Some("Advisory old")
    );
    assert_eq!(st.not_posted.filtered.count, 1);
    assert_eq!(st.sinks.len(), 1);
    assert_eq!(st.sinks[0].outbox.pending, 0);
    // A re-poll counts nothing twice.
    assert_eq!(fx.poll(&store).await, 0);
    let st = notify::status(&store, &fx.config).unwrap();
    assert_eq!(
        (st.not_posted.backfill.count, st.not_posted.filtered.count),
        (1, 1)
    );
}

#[tokio::test]
async fn one_slack_shaped_post_per_finding() {
    let fx = Fixture::new("");
    fx.feed(&[
        item("sa-1", Some(2), "Fixes CVE-2026-0001."),
        item("sa-2", Some(1), "Fixes CVE-2026-0002."),
    ]);
    let store = fx.store();
    fx.poll(&store).await;
    let ids: Vec<String> = store
        .outbox_pending(SINK, 10)
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    let server = Server::start();
    server.handle(|_| Response::ok("ok"));
    let sink = fx.sink(&server);
    let render = notify::default_render();
    let report = notify::drain_bounded(&store, &sink, &render, Budget::default())
        .await
        .unwrap();
    assert_eq!((report.delivered, report.remaining), (2, 0));
    let posts = posts(&server);
    assert_eq!(posts.len(), 2);
    for (post, id) in posts.iter().zip(&ids) {
        assert_eq!(post.path, "/hook/T0/B0/secret");
        assert_eq!(post.headers.get("idempotency-key"), Some(id));
        assert_eq!(
            post.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        let body = post.json();
        let a = &body["attachments"][0];
        assert!(body["text"]
            .as_str()
            .unwrap()
            .starts_with("Advisory: Advisory sa-"));
        assert_eq!(a["color"], "#f1c40f");
        assert!(a["title_link"]
            .as_str()
            .unwrap()
            .starts_with("https://dten.example/sa-"));
        assert!(a["footer"].as_str().unwrap().starts_with("trustwatch"));
        let fields = a["fields"].as_array().unwrap();
        assert!(fields
            .iter()
            .any(|f| f["title"] == "CVEs" && f["short"] == false));
        assert!(fields
            .iter()
            .any(|f| f["title"] == "Vendor" && f["value"] == "dten" && f["short"] == true));
    }
    assert_eq!(
        posts[0].json()["attachments"][0]["fields"][3]["value"],
        "CVE-2026-0001"
    );
    // Delivered: nothing more is sent.
    notify::drain_bounded(&store, &sink, &render, Budget::default())
        .await
        .unwrap();
    assert_eq!(self::posts(&server).len(), 2);
    let st = store.sink_summary(SINK).unwrap();
    assert_eq!((st.pending, st.delivered), (0, 2));
    assert!(st.last_delivered.is_some() && st.down_since.is_none());
}

/// A server that answers the first POSTs with `first`, then 200.
fn flaky(server: &Server, first: Vec<Response>) {
    let calls = std::sync::Mutex::new(0usize);
    server.handle(move |_| {
        let mut n = calls.lock().unwrap();
        *n += 1;
        first
            .get(*n - 1)
            .cloned()
            .unwrap_or_else(|| Response::ok("ok"))
    });
}

async fn one_finding(fx: &Fixture) -> Store {
    fx.feed(&[item("sa-1", Some(2), "Fixes CVE-2026-0001.")]);
    let store = fx.store();
    assert_eq!(fx.poll(&store).await, 1);
    store
}

#[tokio::test]
async fn rate_limited_then_accepted_is_delivered_once_after_the_wait() {
    let fx = Fixture::new("");
    let store = one_finding(&fx).await;
    let server = Server::start();
    flaky(
        &server,
        vec![Response::status(429).header("Retry-After", "2")],
    );
    let started = Instant::now();
    let report = notify::drain_bounded(
        &store,
        &fx.sink(&server),
        &notify::default_render(),
        Budget::default(),
    )
    .await
    .unwrap();
    assert_eq!((report.delivered, report.remaining), (1, 0));
    let posts = posts(&server);
    assert_eq!(posts.len(), 2);
    let gap = posts[1].at - posts[0].at;
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        posts[0].headers.get("idempotency-key"),
        posts[1].headers.get("idempotency-key")
    );
}

#[tokio::test]
async fn server_errors_twice_then_accepted_is_delivered_once_with_backoff() {
    let fx = Fixture::new("");
    let store = one_finding(&fx).await;
    let server = Server::start();
    flaky(&server, vec![Response::status(500), Response::status(503)]);
    let report = notify::drain_bounded(
        &store,
        &fx.sink(&server),
        &notify::default_render(),
        Budget::default(),
    )
    .await
    .unwrap();
    assert_eq!((report.delivered, report.remaining), (1, 0));
    let posts = posts(&server);
    assert_eq!(posts.len(), 3);
    // 1 s then 2 s, each within ±20%.
    assert!(posts[1].at - posts[0].at >= Duration::from_millis(800));
    assert!(posts[2].at - posts[1].at >= Duration::from_millis(1600));
    let st = store.sink_summary(SINK).unwrap();
    assert_eq!(st.delivered, 1);
    assert!(st.down_since.is_none() && st.last_error.is_none());
}

#[tokio::test]
async fn a_refused_message_is_kept_as_failed_and_shown_in_status() {
    let fx = Fixture::new("");
    let store = one_finding(&fx).await;
    let server = Server::start();
    server.handle(|_| Response {
        status: 400,
        headers: Vec::new(),
        body: b"invalid_payload".to_vec(),
        delay: Duration::ZERO,
        trickle: None,
    });
    let report = notify::drain_bounded(
        &store,
        &fx.sink(&server),
        &notify::default_render(),
        Budget::default(),
    )
    .await
    .unwrap();
    assert_eq!((report.delivered, report.remaining), (0, 1));
    assert_eq!(posts(&server).len(), 1, "a refusal is not retried at once");
    let item = &store.outbox_pending(SINK, 10).unwrap()[0];
    assert!(item.failed && item.attempts == 1);
    assert!(item.next_attempt > OffsetDateTime::now_utc() + time::Duration::hours(5));
    let st = notify::status(&store, &fx.config).unwrap();
    let sink = &st.sinks[0].outbox;
    assert_eq!((sink.pending, sink.failed, sink.delivered), (1, 1, 0));
    let err = sink.last_error.as_deref().unwrap();
    assert!(
        err.contains("HTTP 400") && err.contains("invalid_payload"),
        "{err}"
    );
    assert!(sink.down_since.is_none(), "a refusal is not an outage");
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["sinks"][0]["sink"], SINK);
    assert_eq!(json["sinks"][0]["failed"], 1);
}

#[tokio::test]
async fn a_crash_between_send_and_mark_resends_with_the_same_id() {
    let fx = Fixture::new("");
    let store = one_finding(&fx).await;
    let server = Server::start();
    server.handle(|_| Response::ok("ok"));
    let sink = fx.sink(&server);
    let item = store.outbox_pending(SINK, 1).unwrap().remove(0);
    let notice = Notice {
        id: item.id.clone(),
        finding: item.finding.clone(),
        update: item.update,
        queued: item.queued,
    };
    let render = notify::default_render();
    // Sent, and the process dies before the mark.
    sink.deliver(&notice, &render(&notice)).await.unwrap();
    drop(store);
    let store = fx.store();
    let report = notify::drain_bounded(&store, &sink, &render, Budget::default())
        .await
        .unwrap();
    assert_eq!((report.delivered, report.remaining), (1, 0));
    let posts = posts(&server);
    assert_eq!(posts.len(), 2);
    let keys: Vec<_> = posts
        .iter()
        .map(|p| p.headers.get("idempotency-key").cloned())
        .collect();
    assert_eq!(keys, [Some(item.id.clone()), Some(item.id)]);
}

#[tokio::test]
async fn the_drain_task_announces_wakes_on_enqueue_and_stops_on_shutdown() {
    let fx = Fixture::new("");
    fx.feed(&[]);
    let store = Arc::new(fx.store());
    let server = Server::start();
    server.handle(|_| Response::ok("ok"));
    let sink: Arc<dyn Sink> = Arc::new(fx.sink(&server));
    let wake = Arc::new(tokio::sync::Notify::new());
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(notify::run_drain(
        store.clone(),
        sink,
        notify::default_render(),
        wake.clone(),
        rx,
        Some(notify::online_text(1, 0)),
    ));
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        let server = &server;
        async move {
            while posts(server).len() < n {
                assert!(
                    Instant::now() < deadline,
                    "only {} POSTs",
                    posts(server).len()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(1).await;
    assert!(posts(&server)[0].json()["text"]
        .as_str()
        .unwrap()
        .contains("online"));
    fx.feed(&[item("sa-1", Some(1), "Fixes CVE-2026-0001.")]);
    assert_eq!(fx.poll(&store).await, 1);
    wake.notify_one();
    wait_for(2).await;
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.sink_summary(SINK).unwrap().delivered, 1);
}
