//! The seed story over Discord, whole-program: the real `trustwatch run` binary with the
//! HTTP interactions endpoint, talking through serenity to a fake Discord API on
//! loopback. DTEN's rotation notices reach the channel once each (with nonces, evidence
//! and approve buttons), `/verify` on the package answers PENDING with the escalation
//! prompt, a member without the approver role cannot approve (and nothing changes), an
//! approver can (audited with their Discord id), and the package is then TRUSTED. The
//! CLI keeps working beside the bot (control socket).

mod common;

use std::time::{Duration, Instant};

use common::discord::{
    FakeDiscord, Invoker, Signer, APPLICATION_ID, APPROVER_ROLE_ID, CHANNEL_ID, GUILD_ID, TOKEN,
};
use common::runbot::{seed_config, DiscordSection, RunningBot, NEW_ROOT};
use serde_json::Value;

const PACKAGE: &str = "config/examples/Full-upgrade-package-dten.zip";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Bot {
    run: RunningBot,
    endpoint: String,
    signer: Signer,
    client: reqwest::Client,
}

impl Bot {
    /// The seed config with the HTTP interactions endpoint; the old root approved first.
    fn start(fake: &FakeDiscord) -> Self {
        let signer = Signer::new();
        let port = free_port();
        let section = DiscordSection {
            channel_id: CHANNEL_ID,
            approver_role_id: APPROVER_ROLE_ID,
            guild_id: GUILD_ID,
            api_base: fake.base.clone(),
            extra: format!(
                "application_id = {APPLICATION_ID}\ninteractions_public_key = \"{}\"\ninteractions_listen = \"127.0.0.1:{port}\"",
                signer.public_key_hex()
            ),
        };
        let run = RunningBot::start(|env| seed_config(env, &section), TOKEN);
        Self {
            run,
            endpoint: format!("http://127.0.0.1:{port}/interactions"),
            signer,
            client: reqwest::Client::new(),
        }
    }

    /// POST a signed interaction; (status, JSON body or Null).
    async fn post(&self, interaction: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(interaction).unwrap();
        let mut req = self.client.post(&self.endpoint).body(body.clone());
        for (k, v) in self.signer.headers(&body) {
            req = req.header(k, v);
        }
        let resp = req
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Wait until the endpoint answers a PING.
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = serde_json::to_vec(&Invoker::default().ping()).unwrap();
            let mut req = self.client.post(&self.endpoint).body(body.clone());
            for (k, v) in self.signer.headers(&body) {
                req = req.header(k, v);
            }
            if let Ok(r) = req.send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the interactions endpoint never came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Run a CLI command beside the bot (it goes through the control socket).
    fn cli(&self, args: &[&str]) -> std::process::Output {
        self.run.cli(args)
    }

    fn stop(self) -> String {
        let (code, log) = self.run.stop(Duration::from_secs(20));
        assert_eq!(code, Some(0), "run's log:\n{log}");
        log
    }
}

fn embeds_text(msg: &Value) -> String {
    msg["embeds"].to_string()
}

/// The edited original response of an interaction, once it arrives.
async fn original(fake: &FakeDiscord, interaction: &Value) -> Value {
    let token = interaction["token"].as_str().unwrap().to_owned();
    let path = format!("/api/v10/webhooks/{APPLICATION_ID}/{token}/messages/@original");
    fake.wait_for(
        "the deferred answer's edit",
        Duration::from_secs(30),
        |reqs| reqs.iter().any(|r| r.is("PATCH", &path)),
    )
    .await;
    fake.original(&token).expect("the edit is recorded")
}

fn edit_files(fake: &FakeDiscord, interaction: &Value) -> Vec<(String, Vec<u8>)> {
    let token = interaction["token"].as_str().unwrap();
    let path = format!("/api/v10/webhooks/{APPLICATION_ID}/{token}/messages/@original");
    fake.requests_to("PATCH", &path)
        .iter()
        .flat_map(|r| {
            r.files()
                .iter()
                .map(|f| (f.filename.clone().unwrap_or_default(), f.bytes.clone()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_over_discord() {
    let fake = FakeDiscord::start().await;
    let bot = Bot::start(&fake);
    bot.wait_ready().await;

    // Start-up: commands registered for the guild, an online line, the notices.
    let names: Vec<String> = fake
        .commands(Some(GUILD_ID))
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    for want in ["verify", "trust", "escalate", "status"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} not registered: {names:?}"
        );
    }
    let msgs_path = format!("/api/v10/channels/{CHANNEL_ID}/messages");
    // Both sources polled (each task starts with up to 10 s of jitter).
    fake.wait_for("the rotation notices", Duration::from_secs(40), |_| {
        let created = fake.created_messages();
        created
            .iter()
            .any(|m| embeds_text(m).contains("DTEN code-signing CA rotation"))
            && created
                .iter()
                .any(|m| embeds_text(m).contains("(page 2) (post 1)"))
    })
    .await;
    let created = fake.created_messages();
    assert!(
        created
            .iter()
            .any(|m| m["content"].as_str().unwrap_or("").contains("online")),
        "no online message: {created:#?}"
    );
    let rotation = created
        .iter()
        .find(|m| embeds_text(m).contains("DTEN code-signing CA rotation"))
        .unwrap_or_else(|| panic!("the feed's rotation notice: {created:#?}"));
    assert!(rotation["content"]
        .as_str()
        .unwrap()
        .contains(&format!("<@&{APPROVER_ROLE_ID}>")));
    let buttons = rotation["components"].to_string();
    assert!(
        buttons.contains(&format!("approve:{NEW_ROOT}")),
        "{buttons}"
    );
    let evidence = embeds_text(rotation);
    assert!(
        evidence.contains("cross-signed by an approved anchor?"),
        "{evidence}"
    );
    assert!(evidence.contains("announced on"), "{evidence}");
    assert!(
        evidence.contains(&format!("candidate  {NEW_ROOT}")),
        "{evidence}"
    );
    // Every notice went out once, each with its own nonce.
    let posts = fake.requests_to("POST", &msgs_path);
    let nonces: Vec<String> = posts
        .iter()
        .filter_map(|r| {
            r.json()
                .and_then(|j| j["nonce"].as_str().map(str::to_owned))
        })
        .collect();
    let mut unique = nonces.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        nonces.len(),
        "a notice was sent twice: {nonces:?}"
    );
    assert!(posts
        .iter()
        .filter_map(|r| r.json())
        .filter(|j| j.get("nonce").is_some())
        .all(|j| j["enforce_nonce"] == true));

    // /verify with the package as an attachment: PENDING, the escalation prompt.
    let zip = std::fs::read(PACKAGE).unwrap();
    let url = fake.add_attachment("Full-upgrade-package-dten.zip", zip.clone());
    let anyone = Invoker::default();
    let verify = anyone.verify_attachment("Full-upgrade-package-dten.zip", &url, zip.len() as u32);
    let (status, ack) = bot.post(&verify).await;
    assert_eq!((status, ack["type"].as_u64()), (200, Some(5)), "{ack}");
    let answer = original(&fake, &verify).await;
    let text = embeds_text(&answer);
    assert!(text.contains("PENDING"), "{answer:#}");
    assert!(answer["content"]
        .as_str()
        .unwrap()
        .contains(&format!("<@&{APPROVER_ROLE_ID}>")));
    assert!(answer["components"]
        .to_string()
        .contains(&format!("approve:{NEW_ROOT}")));
    let files = edit_files(&fake, &verify);
    let script = files
        .iter()
        .find(|(n, _)| n == "escalate.sh")
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .expect("the escalation script is attached");
    assert!(
        script.starts_with("#!/bin/sh") && script.contains(NEW_ROOT),
        "{script}"
    );
    assert!(script.contains("security@dten.example"));

    // A member without the approver role: refused, ephemeral, nothing changes.
    let (status, refused) = bot.post(&anyone.trust_approve(NEW_ROOT)).await;
    assert_eq!(status, 200);
    assert_eq!(refused["type"], 4);
    assert_eq!(refused["data"]["flags"], 64, "{refused}");
    assert!(refused["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Only members with the approver role"));
    let (_, pressed) = bot
        .post(&anyone.button(&format!("confirm:{NEW_ROOT}")))
        .await;
    assert_eq!(pressed["data"]["flags"], 64);
    let list = bot.cli(&["trust", "list", "--format", "json"]);
    common::assert_ok(&list);
    let anchors: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert!(anchors
        .iter()
        .any(|a| a["sha256"] == NEW_ROOT && a["state"] == "candidate"));

    // An approver: the button shows the evidence and asks to confirm; confirming approves.
    let approver = Invoker::approver();
    let (_, confirm) = bot
        .post(&approver.button(&format!("approve:{NEW_ROOT}")))
        .await;
    assert_eq!(confirm["type"], 4);
    assert_eq!(confirm["data"]["flags"], 64);
    assert!(
        confirm["data"]["components"]
            .to_string()
            .contains(&format!("confirm:{NEW_ROOT}")),
        "{confirm}"
    );
    let shown = confirm["data"]["embeds"].to_string();
    // The new root is cross-signed by the approved old root (post 4 carried the cross
    // certificate), announced on two channels, and the old root is still approved.
    assert!(
        shown.contains("yes: certified by approved O=DTEN Inc., CN=DTEN Root CA 2019"),
        "{shown}"
    );
    assert!(shown.contains("2 channels"), "{shown}");
    assert!(shown.contains("still approved"), "{shown}");
    let (_, approved) = bot
        .post(&approver.button(&format!("confirm:{NEW_ROOT}")))
        .await;
    let said = approved["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        said.contains("Approved") && said.contains(NEW_ROOT),
        "{approved}"
    );
    let audit = bot.cli(&["trust", "audit", "--format", "json"]);
    common::assert_ok(&audit);
    let audit: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let last = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["sha256"], NEW_ROOT);
    assert!(
        last["actor"]
            .as_str()
            .unwrap()
            .starts_with(&format!("discord:{}", approver.user_id)),
        "{last}"
    );

    // The same package is now trusted, and /status answers.
    let again = anyone.verify_attachment("Full-upgrade-package-dten.zip", &url, zip.len() as u32);
    bot.post(&again).await;
    assert!(embeds_text(&original(&fake, &again).await).contains("TRUSTED"));
    let (_, status_reply) = bot.post(&anyone.status()).await;
    assert!(
        status_reply["data"]["embeds"]
            .to_string()
            .contains("trustwatch status"),
        "{status_reply}"
    );
    assert!(
        status_reply["data"]["embeds"]
            .to_string()
            .contains("chat (Discord, interactions endpoint): running"),
        "{status_reply}"
    );

    // A request Discord did not sign is refused.
    let body = serde_json::to_vec(&approver.trust_approve(NEW_ROOT)).unwrap();
    let forged = bot
        .client
        .post(&bot.endpoint)
        .header("X-Signature-Ed25519", "00".repeat(64))
        .header(
            "X-Signature-Timestamp",
            time::OffsetDateTime::now_utc().unix_timestamp().to_string(),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);

    let log = bot.stop();
    assert!(!log.contains(TOKEN), "the token leaked into the log");
}
