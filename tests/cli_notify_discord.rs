//! `trustwatch notify --test` with `[chat.discord]` configured, through the real binary
//! against the fake Discord REST API (tests/common/discord.rs): the test line is posted
//! to `channel_id` with the token from `token_env`; a refusal or an unreachable API is
//! exit 1 with the reason; a missing token is exit 2 naming the variable. The token
//! never appears in the output, even with `-vv`. And `poll --once` delivers the seed
//! story's notices to Discord once each (nonces), or leaves them queued while it is down.

mod common;

use std::process::{Command, Output};

use common::discord::{
    Failure, FakeDiscord, Outage, APPROVER_ROLE_ID, CHANNEL_ID, GUILD_ID, TOKEN,
};
use common::runbot::{seed_config, DiscordSection, NEW_ROOT, TOKEN_VAR};

const VAR: &str = "TW_TEST_NOTIFY_DISCORD_TOKEN";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(api_base: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[store]\npath = {data:?}\n\n[chat.discord]\ntoken_env = \"{VAR}\"\nchannel_id = {CHANNEL_ID}\napprover_role_id = 1\napi_base = {api_base:?}\n\n[[vendor]]\nname = \"dten\"\n",
            data = dir.path().join("data").display().to_string(),
        );
        std::fs::write(dir.path().join("trustwatch.toml"), config).unwrap();
        Self { dir }
    }

    /// `notify --test -vv`, with `token` in the variable (unset when `None`).
    fn notify(&self, token: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustwatch"));
        cmd.arg("--config")
            .arg(self.dir.path().join("trustwatch.toml"))
            .args(["-vv", "notify", "--test"])
            .env_remove("TRUSTWATCH_CONFIG")
            .env_remove("TRUSTWATCH_DATA_DIR")
            .env_remove("RUST_LOG")
            .env_remove(VAR);
        if let Some(token) = token {
            cmd.env(VAR, token);
        }
        // The fake serves on this runtime's other worker while the binary runs.
        tokio::task::block_in_place(|| cmd.output().unwrap())
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn no_token(o: &Output) {
    for text in [out(o), err(o)] {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
}

fn channel_posts(fake: &FakeDiscord) -> usize {
    fake.requests_to("POST", &format!("/api/v10/channels/{CHANNEL_ID}/messages"))
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_posts_the_test_line_to_the_channel() {
    let fake = FakeDiscord::start().await;
    let env = Env::new(&fake.base);
    let o = env.notify(Some(TOKEN));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "discord: OK\n");
    no_token(&o);

    let posts = fake.requests_to("POST", &format!("/api/v10/channels/{CHANNEL_ID}/messages"));
    assert_eq!(posts.len(), 1, "one attempt, one post");
    assert_eq!(
        posts[0].header("authorization"),
        Some(format!("Bot {TOKEN}").as_str())
    );
    let created = fake.created_messages();
    assert_eq!(created.len(), 1, "{created:#?}");
    assert_eq!(created[0]["channel_id"], CHANNEL_ID.to_string());
    let content = created[0]["content"].as_str().unwrap();
    assert!(
        content.contains("test message from `trustwatch notify --test`"),
        "{content}"
    );
    assert!(content.contains(env!("CARGO_PKG_VERSION")), "{content}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_exit_1_with_discords_reason_and_the_fix() {
    let fake = FakeDiscord::start().await;
    let env = Env::new(&fake.base);
    fake.fail_next(
        "POST",
        "/api/v10/channels/",
        1,
        Failure::Json {
            status: 403,
            code: 50001,
            message: "Missing Access",
        },
    );
    let o = env.notify(Some(TOKEN));
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let said = out(&o);
    assert!(
        said.starts_with("discord: FAILED: Discord answered 403: Missing Access (code 50001)"),
        "{said}"
    );
    assert!(said.contains("Send Messages"), "the fix is named: {said}");
    assert!(fake.created_messages().is_empty());
    no_token(&o);

    // A token Discord refuses: 401, and the hint says to reset it.
    fake.fail_next(
        "POST",
        "/api/v10/channels/",
        1,
        Failure::Json {
            status: 401,
            code: 0,
            message: "401: Unauthorized",
        },
    );
    let o = env.notify(Some(TOKEN));
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(out(&o).contains("Discord answered 401"), "{}", out(&o));
    assert!(out(&o).contains("reset it"), "{}", out(&o));
    no_token(&o);

    // The refusals were permanent: one attempt each, no retry.
    assert_eq!(channel_posts(&fake), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_is_down_is_exit_1_with_the_reason() {
    let fake = FakeDiscord::start().await;
    let env = Env::new(&fake.base);

    fake.go_down(Outage::Unavailable).await;
    let o = env.notify(Some(TOKEN));
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        out(&o).starts_with("discord: FAILED: Discord answered 503"),
        "{}",
        out(&o)
    );
    no_token(&o);

    fake.go_down(Outage::Refused).await;
    let o = env.notify(Some(TOKEN));
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        out(&o).starts_with("discord: FAILED: Discord unreachable"),
        "{}",
        out(&o)
    );
    no_token(&o);

    // Back up: the same command succeeds again.
    fake.come_up().await;
    let o = env.notify(Some(TOKEN));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(fake.created_messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_variable_it_is_exit_2_naming_the_variable() {
    let fake = FakeDiscord::start().await;
    let env = Env::new(&fake.base);
    for token in [None, Some(""), Some("   ")] {
        let o = env.notify(token);
        assert_eq!(o.status.code(), Some(2), "{token:?}: {}", err(&o));
        assert!(err(&o).contains(VAR), "{token:?}: {}", err(&o));
        assert_eq!(out(&o), "", "{token:?}");
    }
    assert!(fake.requests().is_empty(), "nothing reached the API");
}

/// `trustwatch ARGS` against the seed config of `env`, with the token in the variable.
fn seed_run(env: &common::Env, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustwatch"));
    cmd.arg("--config")
        .arg(env.path("trustwatch.toml"))
        .args(args)
        .env_remove("TRUSTWATCH_CONFIG")
        .env_remove("TRUSTWATCH_DATA_DIR")
        .env_remove("RUST_LOG")
        .env(TOKEN_VAR, TOKEN);
    tokio::task::block_in_place(|| cmd.output().unwrap())
}

/// DTEN's seed sources with `[chat.discord]` at `fake`, the old root approved.
fn seed_env(fake: &FakeDiscord) -> common::Env {
    let env = common::Env::new();
    let section = DiscordSection {
        channel_id: CHANNEL_ID,
        approver_role_id: APPROVER_ROLE_ID,
        guild_id: GUILD_ID,
        api_base: fake.base.clone(),
        extra: String::new(),
    };
    env.write("trustwatch.toml", seed_config(&env, &section));
    common::assert_ok(&seed_run(
        &env,
        &[
            "trust",
            "add",
            "config/examples/dten/old-root.pem",
            "--vendor",
            "dten",
        ],
    ));
    env
}

/// The nonces of the channel posts, asserting each post enforces its nonce.
fn nonces(fake: &FakeDiscord) -> Vec<String> {
    fake.requests_to("POST", &format!("/api/v10/channels/{CHANNEL_ID}/messages"))
        .iter()
        .filter_map(|r| r.json().cloned())
        .map(|j| {
            assert_eq!(j["enforce_nonce"], true, "{j:#}");
            j["nonce"].as_str().expect("a nonce").to_owned()
        })
        .collect()
}

fn discord_sink(env: &common::Env) -> serde_json::Value {
    let o = seed_run(env, &["status", "--format", "json"]);
    common::assert_ok(&o);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    st["sinks"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["sink"] == "discord").cloned())
        .unwrap_or_else(|| panic!("no discord sink in {st:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_posts_each_seed_notice_to_discord_once() {
    let fake = FakeDiscord::start().await;
    let env = seed_env(&fake);
    let o = seed_run(&env, &["poll", "--once", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!err(&o).contains("queued for"), "{}", err(&o));
    no_token(&o);
    let created = fake.created_messages();
    assert!(
        created.iter().any(|m| {
            m["embeds"]
                .to_string()
                .contains("DTEN code-signing CA rotation")
                && m["components"]
                    .to_string()
                    .contains(&format!("approve:{NEW_ROOT}"))
        }),
        "{created:#?}"
    );
    let sent = nonces(&fake);
    let mut unique = sent.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        sent.len(),
        "a notice was posted twice: {sent:?}"
    );
    let sink = discord_sink(&env);
    assert_eq!(sink["delivered"], sent.len(), "{sink:#}");
    assert_eq!(sink["pending"], 0, "{sink:#}");

    // Nothing new: nothing posted again.
    let o = seed_run(&env, &["poll", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(nonces(&fake).len(), sent.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_with_discord_down_keeps_the_notices_queued_then_delivers_them() {
    let fake = FakeDiscord::start().await;
    let env = seed_env(&fake);
    fake.go_down(Outage::Unavailable).await;
    let o = seed_run(&env, &["poll", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains("finding(s) queued for discord: Discord answered 503"),
        "{}",
        err(&o)
    );
    no_token(&o);
    assert!(fake.created_messages().is_empty());
    let sink = discord_sink(&env);
    let pending = sink["pending"].as_u64().unwrap();
    assert!(pending >= 2, "{sink:#}");
    assert_eq!(sink["delivered"], 0, "{sink:#}");

    // Back up: polls deliver what was queued as each item's next attempt comes due (the
    // head item backed off while the API was down; the others were never tried).
    fake.come_up().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let o = seed_run(&env, &["poll", "--once"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let sink = discord_sink(&env);
        if sink["pending"] == 0 {
            assert_eq!(sink["delivered"], pending, "{sink:#}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still queued: {sink:#}\n{}",
            err(&o)
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // Each notice created once.
    let created = fake.created_messages();
    let mut created_nonces: Vec<&str> = created
        .iter()
        .map(|m| m["nonce"].as_str().expect("a nonce"))
        .collect();
    assert_eq!(created_nonces.len() as u64, pending, "{created:#?}");
    created_nonces.sort_unstable();
    created_nonces.dedup();
    assert_eq!(created_nonces.len() as u64, pending, "{created:#?}");
}
