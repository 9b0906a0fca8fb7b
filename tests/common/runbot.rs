//! The real `trustwatch run` binary as a child process for whole-program chat tests: a
//! temp dir with a config naming the DTEN seed sources and a `[chat.discord]` section,
//! the old root approved beforehand, stderr collected as it comes (so a test can wait
//! for a log line while the bot runs), CLI commands run beside it (they go through the
//! control socket), and SIGTERM with a deadline.

use std::io::Read as _;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::discord::{FakeDiscord, APPROVER_ROLE_ID, CHANNEL_ID, GUILD_ID, TOKEN};
use super::gateway::FakeDiscord as FakeGateway;
use super::Env;

/// The variable `token_env` names in these configs.
pub const TOKEN_VAR: &str = "TW_TEST_DISCORD_TOKEN";

/// DTEN's new root, announced by the seed sources (feed and forum).
pub const NEW_ROOT: &str = "d94b96946b8c4c2e7451879b266264eb59c9d8feb1c897b872e8e311921d7930";

/// The `[chat.discord]` keys of one test, written as TOML lines.
pub struct DiscordSection {
    pub channel_id: u64,
    pub approver_role_id: u64,
    pub guild_id: u64,
    pub api_base: String,
    /// Further lines (`application_id = ...`, the interactions endpoint keys).
    pub extra: String,
}

/// A config with `[http] allow_private_addresses = true` (attachments are served on
/// loopback), `discord`, and DTEN's feed and forum thread from `config/examples/dten`.
pub fn seed_config(env: &Env, discord: &DiscordSection) -> String {
    format!(
        r#"[store]
path = {data:?}

[http]
allow_private_addresses = true

[chat.discord]
token_env = "{TOKEN_VAR}"
channel_id = {channel}
approver_role_id = {role}
guild_id = {guild}
api_base = {base:?}
{extra}

[[vendor]]
name = "dten"
contact = "security@dten.example"
advisory_url = "https://dten.example/security"

[[vendor.feed]]
url = "file://config/examples/dten/advisories.xml"
interval = "1h"

[[vendor.page]]
url = "file://config/examples/dten/forum-ca-rotation.html"
item_selector = "article.post"
next_selector = "a[rel=next]"
interval = "1h"
"#,
        data = env.path("data").display().to_string(),
        channel = discord.channel_id,
        role = discord.approver_role_id,
        guild = discord.guild_id,
        base = discord.api_base,
        extra = discord.extra,
    )
}

/// `trustwatch run` with its stderr collected.
pub struct RunningBot {
    pub env: Env,
    child: Mutex<Child>,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl RunningBot {
    /// Write `config`, approve DTEN's old root, start `run` with `token` in
    /// [`TOKEN_VAR`] and `RUST_LOG=info`.
    pub fn start(config: impl FnOnce(&Env) -> String, token: &str) -> Self {
        let env = Env::new();
        let text = config(&env);
        env.write("trustwatch.toml", text);
        super::assert_ok(&env.run(&[
            "trust",
            "add",
            "config/examples/dten/old-root.pem",
            "--vendor",
            "dten",
        ]));
        let mut child = Command::new(env!("CARGO_BIN_EXE_trustwatch"))
            .arg("--config")
            .arg(env.path("trustwatch.toml"))
            .arg("run")
            .env(TOKEN_VAR, token)
            .env_remove("TRUSTWATCH_CONFIG")
            .env_remove("TRUSTWATCH_DATA_DIR")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            env,
            child: Mutex::new(child),
            log,
            reader: Some(reader),
        }
    }

    /// What `run` has written to stderr so far, without terminal colours.
    pub fn log(&self) -> String {
        strip_ansi(&self.log.lock().unwrap())
    }

    /// Poll the log until it contains `needle`; panics with the log after `deadline`.
    pub async fn wait_for_log(&self, needle: &str, deadline: Duration) {
        let start = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < deadline,
                "no {needle:?} in run's log after {deadline:?}:\n{}",
                self.log()
            );
            self.assert_running();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Panics (with the log) when `run` has already exited.
    pub fn assert_running(&self) {
        let exited = self.child.lock().unwrap().try_wait().unwrap();
        assert!(
            exited.is_none(),
            "run exited early ({exited:?}); its log:\n{}",
            self.log()
        );
    }

    /// Run a CLI command beside the bot (it goes through the control socket); blocking,
    /// so call it from `spawn_blocking` or a multi-threaded runtime.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.env.run(args)
    }

    /// SIGTERM; the exit code (or `None` for a signal) and the whole log. Panics when
    /// `run` has not exited within `deadline`.
    pub fn stop(mut self, deadline: Duration) -> (Option<i32>, String) {
        let child = self.child.get_mut().unwrap();
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let start = Instant::now();
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code();
            }
            if start.elapsed() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "run did not stop within {deadline:?} of SIGTERM; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (code, self.log())
    }
}

impl Drop for RunningBot {
    fn drop(&mut self) {
        // A failed assertion must not leave the bot running.
        if let Ok(child) = self.child.get_mut() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `text` without ANSI escape sequences (`ESC [ ... letter`): the log's field names
/// and values are coloured separately, which would split `key=value`.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// How often `needle` occurs in `haystack`.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

// The gateway way in: the fake REST API and the fake gateway together.

pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// Both sources are polled within this (each task starts with up to 10 s of jitter).
pub const POLLED: Duration = Duration::from_secs(40);
pub const ANSWERED: Duration = Duration::from_secs(20);
pub const STOPPED: Duration = Duration::from_secs(20);

/// The fake REST API, with `/gateway/bot` pointing at the fake gateway.
pub async fn fakes() -> (FakeDiscord, FakeGateway) {
    let rest = FakeDiscord::start().await;
    let gateway = FakeGateway::start(TOKEN, HEARTBEAT).await;
    rest.set_gateway_url(&gateway.ws_url);
    (rest, gateway)
}

/// `run` over the gateway: no `application_id` (READY carries it), no public key.
pub fn start_over_gateway(rest: &FakeDiscord) -> RunningBot {
    let section = DiscordSection {
        channel_id: CHANNEL_ID,
        approver_role_id: APPROVER_ROLE_ID,
        guild_id: GUILD_ID,
        api_base: rest.base.clone(),
        extra: String::new(),
    };
    RunningBot::start(|env| seed_config(env, &section), TOKEN)
}

pub fn callback_path(interaction: &Value) -> String {
    format!(
        "/api/v10/interactions/{}/{}/callback",
        interaction["id"].as_str().unwrap(),
        interaction["token"].as_str().unwrap()
    )
}

/// Dispatch `interaction` over the gateway and wait for its callback's JSON body.
pub async fn dispatch(rest: &FakeDiscord, gateway: &FakeGateway, interaction: &Value) -> Value {
    gateway.dispatch("INTERACTION_CREATE", interaction.clone());
    let path = callback_path(interaction);
    let name = interaction["data"]["name"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let requests = rest
        .wait_for(&format!("the callback to /{name}"), ANSWERED, |reqs| {
            reqs.iter().any(|r| r.is("POST", &path))
        })
        .await;
    let callbacks: Vec<Value> = requests
        .iter()
        .filter(|r| r.is("POST", &path))
        .filter_map(|r| r.json().cloned())
        .collect();
    assert_eq!(callbacks.len(), 1, "{callbacks:#?}");
    callbacks[0].clone()
}

/// A CLI command beside the bot, as JSON.
pub async fn cli_json(bot: &RunningBot, args: &[&str]) -> Value {
    let out = tokio::task::block_in_place(|| bot.cli(args));
    super::assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}
