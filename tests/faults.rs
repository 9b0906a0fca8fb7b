//! Faults survived, whole-program: the real `trustwatch run` killed with SIGKILL in the
//! middle of a poll (while the feed trickles in, and while entries are being recorded)
//! and in the middle of delivery (a webhook and the fake Discord API that answer
//! slowly), then restarted. Afterwards every finding is recorded once with one outbox
//! item, learnt keys are candidates only, the audit log is whole, and every notice is
//! delivered in order: to Discord once (its nonce de-duplication), to the webhook at
//! least once with the same `Idempotency-Key` on the re-send.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::discord::{FakeDiscord, Signer, APPLICATION_ID, CHANNEL_ID, GUILD_ID, TOKEN};
use common::http::{Response, Server};
use common::{Alg, Env, Identity};
use trustwatch::store::{notice_id, Store, StoreOptions};
use trustwatch::trust::AnchorState;

const HOOK_VAR: &str = "TW_FAULTS_HOOK";
const DEADLINE: Duration = Duration::from_secs(40);

/// A running `trustwatch run` whose stderr (the log) is collected as it comes.
struct Run {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Run {
    fn start(env: &Env, vars: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustwatch"));
        cmd.arg("--config")
            .arg(env.path("trustwatch.toml"))
            .arg("run")
            .env_remove("TRUSTWATCH_CONFIG")
            .env_remove("TRUSTWATCH_DATA_DIR")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            log,
            reader: Some(reader),
        }
    }

    /// `kill -KILL`, wait for it, and return everything it logged.
    fn kill9(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), None, "killed by a signal");
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        log
    }
}

/// Poll `pred` every 20 ms until it holds; panic with `what` after [`DEADLINE`].
#[track_caller]
fn wait_until(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `status --format json` (through `run`'s control socket while it is up).
fn status(env: &Env) -> Option<serde_json::Value> {
    let out = env.run(&["status", "--format", "json"]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

fn new_findings(log: &str) -> usize {
    log.lines().filter(|l| l.contains("new finding")).count()
}

fn advisory_item(i: usize) -> String {
    format!(
        "<item><guid>sa-{i}</guid><title>Security advisory {i:03}</title>\
         <link>https://dten.example/sa-{i}</link>\
         <description>Fixes CVE-2026-{}.</description></item>",
        10_000 + i
    )
}

fn rss(items: &str) -> String {
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>DTEN</title>{items}</channel></rss>")
}

const ENTRIES: usize = 120;
const ROTATIONS: [usize; 4] = [10, 40, 70, 100];

#[test]
fn sigkill_mid_poll_loses_nothing_doubles_nothing_and_trusts_nothing() {
    let env = Env::new();
    let server = Server::start();
    // Each rotation carries one certificate and links another (served slowly, so the
    // poll is caught between recording entries).
    let mut roots = Vec::new();
    let mut linked = HashMap::new();
    let mut items = String::new();
    for i in 0..ENTRIES {
        if !ROTATIONS.contains(&i) {
            items.push_str(&advisory_item(i));
            continue;
        }
        let inline = Identity::root(&format!("DTEN Code Signing Root {i}"), Alg::P256);
        let other = Identity::root(&format!("DTEN Code Signing Root {i}b"), Alg::P256);
        items.push_str(&format!(
            "<item><guid>rot-{i}</guid><title>DTEN rotates its code-signing root CA ({i})</title>\
             <link>https://dten.example/rot-{i}</link><description><![CDATA[Releases will be \
             signed with a new root CA. New root certificate:\n{}\nCross-signed copy: {}]]>\
             </description></item>",
            inline.pem(),
            server.url(&format!("/certs/root{i}.pem"))
        ));
        linked.insert(format!("/certs/root{i}.pem"), other.pem());
        roots.extend([inline.sha256(), other.sha256()]);
    }
    let feed = rss(&items);
    server.handle(move |r| match r.path.as_str() {
        "/feed.xml" => Response::ok(feed.clone()).trickled(2048, Duration::from_millis(80)),
        "/hook" => Response::status(503),
        p => linked.get(p).map_or(Response::status(404), |pem| {
            Response::ok(pem.clone()).delayed(Duration::from_millis(400))
        }),
    });
    env.write(
        "trustwatch.toml",
        format!(
            "[store]\npath = {:?}\n\n[http]\nallow_private_addresses = true\ntimeout = \"30s\"\n\n\
             [[chat.webhook]]\nname = \"ops\"\nurl_env = \"{HOOK_VAR}\"\n\n\
             [[vendor]]\nname = \"dten\"\n\n[[vendor.feed]]\nurl = \"{}\"\ninterval = \"1s\"\n",
            env.path("data").display().to_string(),
            server.url("/feed.xml")
        ),
    );
    let hook = server.url("/hook");
    let vars = [(HOOK_VAR, hook.as_str())];

    // 1. Killed while the feed is still trickling in: nothing recorded yet.
    let run = Run::start(&env, &vars);
    wait_until("the feed request", || server.count("/feed.xml") >= 1);
    let log1 = run.kill9();
    assert_eq!(new_findings(&log1), 0, "{log1}");

    // 2. Killed while fetching the second rotation's linked certificate: the entries
    //    before it are recorded, none after.
    let run = Run::start(&env, &vars);
    wait_until("the second rotation's link", || {
        server.count("/certs/root40.pem") >= 1
    });
    let log2 = run.kill9();
    assert_eq!(new_findings(&log2), 40, "{log2}");

    // 3. Restarted: the poll completes (status through the control socket says so).
    let run = Run::start(&env, &vars);
    wait_until("a completed poll", || {
        status(&env).is_some_and(|s| s["sources"][0]["last_poll"].is_string())
    });
    let log3 = run.kill9();
    assert_eq!(new_findings(&log2) + new_findings(&log3), ENTRIES, "{log3}");

    let store = Store::open(&env.path("data"), StoreOptions::default()).unwrap();
    let findings = store.findings().unwrap();
    let titles: HashSet<_> = findings.iter().map(|f| f.title.clone()).collect();
    assert_eq!((findings.len(), titles.len()), (ENTRIES, ENTRIES));
    let items = store.outbox_pending("webhook:ops", 10 * ENTRIES).unwrap();
    let mut ids: Vec<_> = items.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    let mut want: Vec<_> = findings.iter().map(|f| notice_id(f).unwrap()).collect();
    want.sort();
    assert_eq!(ids, want, "one outbox item per finding, none twice");
    let rotations = findings.iter().filter(|f| f.kind.as_str() == "ca_rotation");
    assert_eq!(rotations.count(), ROTATIONS.len());

    let anchors = store.anchors(None).unwrap();
    let mut got: Vec<_> = anchors.iter().map(|a| a.sha256.to_hex()).collect();
    got.sort();
    roots.sort();
    assert_eq!(got, roots, "both certificates of every rotation, once each");
    assert!(
        anchors.iter().all(|a| a.state == AnchorState::Candidate),
        "{anchors:?}"
    );
    let audit = store.audit().unwrap();
    let seqs: Vec<u64> = audit.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=roots.len() as u64).collect::<Vec<_>>(),
        "{audit:?}"
    );
    let keys: HashSet<_> = audit.iter().map(|e| e.sha256.unwrap()).collect();
    assert_eq!(keys.len(), roots.len());
    assert!(audit
        .iter()
        .all(|e| e.from_state.is_none() && e.to_state == Some(AnchorState::Candidate)));
}

const NOTICES: usize = 12;
/// The notice in flight when `run` is killed.
const IN_FLIGHT: usize = 5;

/// An env whose file:// feed has [`NOTICES`] advisories, with `chat` configured.
fn delivery_env(chat: &str) -> Env {
    let env = Env::new();
    let items: String = (1..=NOTICES).map(advisory_item).collect();
    let feed = env.write("feed.xml", rss(&items));
    env.write(
        "trustwatch.toml",
        format!(
            "[store]\npath = {:?}\n\n[http]\ntimeout = \"20s\"\n\n{chat}\n\
             [[vendor]]\nname = \"dten\"\n\n[[vendor.feed]]\nurl = \"file://{}\"\ninterval = \"1s\"\n",
            env.path("data").display().to_string(),
            feed.display()
        ),
    );
    env
}

fn expected_titles() -> Vec<String> {
    (1..=NOTICES)
        .map(|i| format!("Security advisory {i:03}"))
        .collect()
}

#[track_caller]
fn wait_all_delivered(env: &Env, sink: &str) {
    wait_until("an empty outbox", || {
        status(env).is_some_and(|s| {
            s["sinks"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["sink"] == sink))
                .is_some_and(|x| x["pending"] == 0 && x["delivered"] == NOTICES)
        })
    });
}

#[test]
fn sigkill_mid_webhook_delivery_resends_with_the_same_idempotency_key_in_order() {
    let env = delivery_env(&format!(
        "[[chat.webhook]]\nname = \"ops\"\nurl_env = \"{HOOK_VAR}\""
    ));
    let server = Server::start();
    let hang = Arc::new(AtomicBool::new(true));
    let h = hang.clone();
    let in_flight = format!("Security advisory {IN_FLIGHT:03}");
    server.handle(move |r| {
        let title = r.json()["attachments"][0]["title"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if title.contains(&in_flight) && h.load(Ordering::SeqCst) {
            // Accepted, but the answer comes too late: `run` dies before marking it.
            return Response::ok("ok").delayed(Duration::from_secs(15));
        }
        Response::ok("ok").delayed(Duration::from_millis(100))
    });
    let hook = server.url("/hook");
    let vars = [(HOOK_VAR, hook.as_str())];
    let posted = |s: &Server| -> Vec<(String, String)> {
        s.requests()
            .iter()
            .filter_map(|r| {
                let title = r.json()["attachments"][0]["title"].as_str()?.to_owned();
                let key = r
                    .headers
                    .get("idempotency-key")
                    .cloned()
                    .unwrap_or_default();
                Some((title, key))
            })
            .collect()
    };
    let run = Run::start(&env, &vars);
    let want = format!("Security advisory {IN_FLIGHT:03}");
    wait_until("the notice in flight", || {
        posted(&server).iter().any(|(t, _)| t.contains(&want))
    });
    run.kill9();
    hang.store(false, Ordering::SeqCst);
    let run = Run::start(&env, &vars);
    wait_all_delivered(&env, "webhook:ops");
    run.kill9();

    let sent = posted(&server);
    let mut in_order: Vec<String> = Vec::new();
    let mut keys: HashMap<String, HashSet<String>> = HashMap::new();
    for (title, key) in &sent {
        let short = title.split(": ").last().unwrap_or(title).to_owned();
        let t = expected_titles()
            .into_iter()
            .find(|e| short.contains(e.as_str()))
            .unwrap_or(short);
        if in_order.last() != Some(&t) {
            in_order.push(t.clone());
        }
        assert!(!key.is_empty(), "every notice carries an Idempotency-Key");
        keys.entry(t).or_default().insert(key.clone());
    }
    assert_eq!(
        in_order,
        expected_titles(),
        "every notice, in order: {sent:#?}"
    );
    assert_eq!(
        sent.len(),
        NOTICES + 1,
        "only the notice in flight is sent again"
    );
    assert!(
        keys.values().all(|k| k.len() == 1),
        "a re-send keeps its key: {keys:?}"
    );
    let distinct: HashSet<_> = keys.values().flatten().collect();
    assert_eq!(distinct.len(), NOTICES);
}

#[test]
fn sigkill_mid_discord_delivery_posts_every_notice_once_in_order() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeDiscord::start());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = delivery_env(&format!(
        "[chat.discord]\ntoken_env = \"TW_TEST_DISCORD_TOKEN\"\nchannel_id = {CHANNEL_ID}\n\
         approver_role_id = 1\nguild_id = {GUILD_ID}\napplication_id = {APPLICATION_ID}\n\
         api_base = {:?}\ninteractions_public_key = \"{}\"\ninteractions_listen = \"127.0.0.1:{port}\"\n",
        fake.base,
        Signer::new().public_key_hex()
    ));
    let messages = format!("/api/v10/channels/{CHANNEL_ID}/messages");
    let notices = |fake: &FakeDiscord| -> Vec<String> {
        fake.created_messages()
            .iter()
            .filter_map(|m| m["embeds"][0]["title"].as_str().map(str::to_owned))
            .collect()
    };
    fake.set_reply_delay(Duration::from_millis(100));
    let vars = [("TW_TEST_DISCORD_TOKEN", TOKEN)];
    let run = Run::start(&env, &vars);
    wait_until("the notices before the one in flight", || {
        notices(&fake).len() >= IN_FLIGHT - 1
    });
    // The next message is created at once, its answer comes too late to be marked.
    fake.set_reply_delay(Duration::from_secs(15));
    wait_until("the notice in flight", || notices(&fake).len() >= IN_FLIGHT);
    run.kill9();
    fake.set_reply_delay(Duration::ZERO);
    let run = Run::start(&env, &vars);
    wait_all_delivered(&env, "discord");
    run.kill9();

    let created = notices(&fake);
    assert_eq!(created.len(), NOTICES, "{created:#?}");
    for (got, want) in created.iter().zip(expected_titles()) {
        assert!(got.contains(&want), "in order: {created:#?}");
    }
    // The notice in flight was sent twice, with one nonce; Discord created it once.
    let nonces: Vec<String> = fake
        .requests_to("POST", &messages)
        .iter()
        .filter(|r| {
            r.json()
                .is_some_and(|j| j["embeds"][0]["title"].is_string())
        })
        .filter_map(|r| r.json()?["nonce"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(nonces.len(), NOTICES + 1, "{nonces:?}");
    let distinct: HashSet<_> = nonces.iter().collect();
    assert_eq!(distinct.len(), NOTICES);
    drop(fake);
}
