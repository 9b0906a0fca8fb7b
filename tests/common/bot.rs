//! The Discord side through the library: a real sled store in a temp dir, a config with
//! `[chat.discord]` pointed at a [`FakeDiscord`], serenity's real `Http` at the fake, and
//! the real `Fetcher`. Builds the dispatcher (`chat::commands::Bot`) and the Discord sink,
//! reads interaction fixtures into serenity's model, and takes a handler's first answer
//! apart. No mocks of trustwatch code.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serenity::all::Interaction;
use time::OffsetDateTime;
use trustwatch::chat::commands::Bot;
use trustwatch::chat::handler::{First, Handler, Job};
use trustwatch::chat::sink::DiscordSink;
use trustwatch::config::Config;
use trustwatch::fetch::Fetcher;
use trustwatch::store::{Store, StoreOptions};
use trustwatch::trust::{approval, cert, import, Anchor, AnchorState, Fingerprint};

use super::discord::{
    limits, FakeDiscord, FilePart, APPLICATION_ID, APPROVER_ROLE_ID, CHANNEL_ID, GUILD_ID,
};

pub const PACKAGE: &str = "config/examples/Full-upgrade-package-dten.zip";
pub const OLD_ROOT_PEM: &str = "config/examples/dten/old-root.pem";
pub const NEW_ROOT_PEM: &str = "config/examples/dten/new-root.pem";
pub const CROSS_PEM: &str = "config/examples/dten/new-root-cross-signed.pem";
pub const OLD_ROOT: &str = "1bd15ab3dcd5ef97e1a2c3563d8a685c7305cb258f5b1e47bf319a20b675d14c";
pub const NEW_ROOT: &str = "d94b96946b8c4c2e7451879b266264eb59c9d8feb1c897b872e8e311921d7930";
/// Deferred jobs and edits finish well within this on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(20);

/// How a test's trustwatch is configured.
#[derive(Debug, Clone)]
pub struct Settings {
    pub allow_private_addresses: bool,
    pub max_download: &'static str,
    /// `guild_id` in the config (None: commands are global, any guild is served).
    pub guild_id: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            allow_private_addresses: true,
            max_download: "64MiB",
            guild_id: Some(GUILD_ID),
        }
    }
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    pub fake: FakeDiscord,
}

impl World {
    pub async fn new() -> Self {
        Self::with(Settings::default()).await
    }

    pub async fn with(s: Settings) -> Self {
        let fake = FakeDiscord::start().await;
        let dir = tempfile::tempdir().unwrap();
        let guild = s
            .guild_id
            .map(|g| format!("guild_id = {g}\n"))
            .unwrap_or_default();
        let text = format!(
            r#"[store]
path = {data:?}

[http]
allow_private_addresses = {private}
max_download = "{max}"
timeout = "10s"
connect_timeout = "2s"

[chat.discord]
token_env = "TW_TEST_DISCORD_TOKEN"
channel_id = {CHANNEL_ID}
approver_role_id = {APPROVER_ROLE_ID}
{guild}application_id = {APPLICATION_ID}
api_base = {base:?}

[[vendor]]
name = "dten"
contact = "security@dten.example"
advisory_url = "https://dten.example/security"
"#,
            data = dir.path().join("data").display().to_string(),
            private = s.allow_private_addresses,
            max = s.max_download,
            base = fake.base,
        );
        let config = Arc::new(Config::parse(&text, "test.toml").unwrap());
        let store =
            Arc::new(Store::open(&dir.path().join("data"), StoreOptions::default()).unwrap());
        Self {
            dir,
            config,
            store,
            fake,
        }
    }

    pub fn bot(&self) -> Bot {
        let discord = self.config.chat.discord.clone().unwrap();
        Bot::new(
            self.store.clone(),
            self.config.clone(),
            discord,
            Arc::new(Fetcher::new(&self.config.http).unwrap()),
            Arc::new(self.fake.http()),
        )
    }

    pub fn sink(&self) -> DiscordSink {
        DiscordSink::new(
            Arc::new(self.fake.http()),
            CHANNEL_ID,
            Some(self.store.clone()),
            APPROVER_ROLE_ID,
        )
    }

    /// `trust add <pem> --vendor dten --state <state>`, through the library.
    pub fn add(&self, pem: &str, state: AnchorState) -> Fingerprint {
        let bytes = std::fs::read(Path::new(pem)).unwrap();
        let der = import::parse_certificates(&bytes).unwrap().remove(0);
        let info = cert::inspect(&der).unwrap();
        let now = OffsetDateTime::now_utc();
        let proposed = Anchor {
            sha256: info.sha256,
            vendor: "dten".into(),
            state,
            source: pem.into(),
            first_seen: now,
            updated: now,
            cert_der: Some(der.to_vec()),
            subject: Some(info.subject),
            not_after: Some(info.not_after),
            revoked_reason: None,
        };
        let existing = self.store.anchor(&info.sha256).unwrap();
        let change = approval::plan_add(existing.as_ref(), proposed, "test", now)
            .unwrap()
            .expect("the anchor is new");
        self.store
            .apply(change.previous.as_ref(), &change.new, &change.audit)
            .unwrap();
        info.sha256
    }

    pub fn state(&self, fp: &str) -> Option<AnchorState> {
        self.store
            .anchor(&fp.parse().unwrap())
            .unwrap()
            .map(|a| a.state)
    }

    /// The deferred answer's `@original` once its edit arrived, and the edit's files.
    pub async fn edited(&self, interaction: &Value) -> (Value, Vec<FilePart>) {
        let token = interaction["token"].as_str().unwrap().to_owned();
        let path = format!("/api/v10/webhooks/{APPLICATION_ID}/{token}/messages/@original");
        let reqs = self
            .fake
            .wait_for("the deferred answer's edit", WAIT, |r| {
                r.iter().any(|r| r.is("PATCH", &path))
            })
            .await;
        let files = reqs
            .iter()
            .filter(|r| r.is("PATCH", &path))
            .flat_map(|r| r.files().to_vec())
            .collect();
        (self.fake.original(&token).expect("edit recorded"), files)
    }
}

impl World {
    /// A refusal found after deferring: the public deferred answer is deleted and an
    /// ephemeral follow-up says why; returns the follow-up.
    pub async fn refused_later(&self, interaction: &Value) -> Value {
        let token = interaction["token"].as_str().unwrap().to_owned();
        let original = format!("/api/v10/webhooks/{APPLICATION_ID}/{token}/messages/@original");
        let followup = format!("/api/v10/webhooks/{APPLICATION_ID}/{token}");
        let reqs = self
            .fake
            .wait_for("the ephemeral follow-up", WAIT, |r| {
                r.iter().any(|r| r.is("POST", &followup))
            })
            .await;
        assert!(
            reqs.iter().any(|r| r.is("DELETE", &original)),
            "the public deferred answer stayed"
        );
        assert!(
            !reqs.iter().any(|r| r.is("PATCH", &original)),
            "the refusal was posted publicly"
        );
        let body = reqs
            .iter()
            .find(|r| r.is("POST", &followup))
            .and_then(|r| r.json().cloned())
            .expect("the follow-up has a body");
        assert_eq!(body["flags"], 64, "the follow-up is not ephemeral: {body}");
        body
    }
}

/// An interaction fixture read the way serenity reads Discord's JSON.
pub fn interaction(v: &Value) -> Interaction {
    serde_json::from_value(v.clone()).expect("serenity reads the fixture")
}

/// The immediate answer of `bot` to `v`, as JSON, checked against Discord's limits.
#[track_caller]
pub fn now(bot: &Bot, v: &Value) -> Value {
    match bot.first(interaction(v)) {
        First::Now(r) => {
            let json = serde_json::to_value(r).unwrap();
            limits::assert_response_within(&json);
            json
        }
        First::Later { ack, .. } => panic!(
            "expected an immediate answer, got a deferred one: {}",
            serde_json::to_value(ack).unwrap()
        ),
    }
}

/// A deferred answer: the ack (asserted type 5) and the job that edits `@original`.
#[track_caller]
pub fn later(bot: &Bot, v: &Value) -> (Value, Job) {
    match bot.first(interaction(v)) {
        First::Later { ack, job } => {
            let ack = serde_json::to_value(ack).unwrap();
            assert_eq!(ack["type"], 5, "{ack}");
            (ack, job)
        }
        First::Now(r) => panic!(
            "expected a deferred answer, got {}",
            serde_json::to_value(r).unwrap()
        ),
    }
}

/// An immediate ephemeral answer's text (asserts type 4 and the ephemeral flag).
#[track_caller]
pub fn refusal(bot: &Bot, v: &Value) -> String {
    let r = now(bot, v);
    assert_eq!(r["type"], 4, "{r}");
    assert_eq!(r["data"]["flags"], 64, "not ephemeral: {r}");
    r["data"]["content"].as_str().unwrap_or_default().to_owned()
}

/// The script attached to an edit, checked to be a POSIX shell script by shellcheck.
#[track_caller]
pub fn script(files: &[FilePart]) -> String {
    let f = files
        .iter()
        .find(|f| f.filename.as_deref() == Some("escalate.sh"))
        .unwrap_or_else(|| panic!("no escalate.sh among {files:?}"));
    let text = String::from_utf8(f.bytes.clone()).unwrap();
    assert!(text.starts_with("#!/bin/sh"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escalate.sh");
    std::fs::write(&path, &text).unwrap();
    let out = std::process::Command::new("shellcheck")
        .arg("--shell=sh")
        .arg(&path)
        .output()
        .expect("shellcheck is installed");
    assert!(
        out.status.success(),
        "shellcheck: {}\n{text}",
        String::from_utf8_lossy(&out.stdout)
    );
    text
}
