//! The real `trustwatch run` binary as a child process for whole-program chat tests: a
//! temp dir with a config naming the DTEN seed sources and a `[chat.discord]` section,
//! the old root approved beforehand, stderr collected as it comes (so a test can wait
//! for a log line while the bot runs), CLI commands run beside it (they go through the
//! control socket), and SIGTERM with a deadline.

use std::io::Read as _;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

    /// What `run` has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
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

/// How often `needle` occurs in `haystack`.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}
