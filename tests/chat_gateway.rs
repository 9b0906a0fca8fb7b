//! The gateway way in, whole-program: the real `trustwatch run` binary with
//! `[chat.discord]` and no interactions endpoint, so serenity's client connects to a fake
//! gateway (tests/common/gateway.rs) whose `ws://` address the fake REST API
//! (tests/common/discord.rs) hands out at `/gateway/bot`. Commands arrive as
//! INTERACTION_CREATE dispatches and are answered through REST; the CLI keeps working
//! beside the bot (control socket). And a gateway that refuses the token at start-up
//! stops chat, loudly and once, but never the watchers.

mod common;

use std::time::Duration;

use common::discord::{Failure, Invoker, APPLICATION_ID, GUILD_ID, TOKEN};
use common::gateway::wait_for;
use common::runbot::{
    callback_path, cli_json, count, dispatch, fakes, start_over_gateway as start, RunningBot,
    ANSWERED, NEW_ROOT, POLLED, STOPPED, TOKEN_VAR,
};
use serde_json::Value;

const PACKAGE: &str = "config/examples/Full-upgrade-package-dten.zip";

fn anchor_state(anchors: &Value, sha256: &str) -> Option<String> {
    anchors
        .as_array()?
        .iter()
        .find(|a| a["sha256"] == sha256)
        .and_then(|a| a["state"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_over_the_gateway() {
    let (rest, gateway) = fakes().await;
    let bot = start(&rest);

    // Identify: the token from token_env, GUILDS (1 << 0) only.
    let identify = wait_for("the Identify", POLLED, || {
        gateway
            .connections()
            .first()
            .and_then(|c| c.identifies.first().cloned())
    })
    .await;
    assert_eq!(identify["token"], format!("Bot {TOKEN}"));
    assert_eq!(identify["intents"], 1, "GUILDS only");

    // READY: commands registered for guild_id, with the application id READY carried.
    let registered = format!("/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands");
    rest.wait_for("the guild command registration", ANSWERED, |reqs| {
        reqs.iter().any(|r| r.is("PUT", &registered))
    })
    .await;
    let names: Vec<String> = rest
        .commands(Some(GUILD_ID))
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, ["verify", "trust", "escalate", "status"]);
    assert!(
        rest.commands(None).is_empty(),
        "nothing registered globally"
    );

    // The online line and the rotation notices from both sources.
    rest.wait_for("the rotation notices", POLLED, |_| {
        let created = rest.created_messages();
        let embeds = |m: &Value| m["embeds"].to_string();
        created
            .iter()
            .any(|m| embeds(m).contains("DTEN code-signing CA rotation"))
            && created
                .iter()
                .any(|m| embeds(m).contains("(page 2) (post 1)"))
    })
    .await;
    let created = rest.created_messages();
    assert!(
        created
            .iter()
            .any(|m| m["content"].as_str().unwrap_or("").contains("online")),
        "no online line: {created:#?}"
    );
    assert!(
        created.iter().any(|m| m["components"]
            .to_string()
            .contains(&format!("approve:{NEW_ROOT}"))),
        "no notice offers to approve the new root: {created:#?}"
    );

    // /trust list over the gateway: answered at once, the new root a candidate.
    let anyone = Invoker::default();
    let listed = dispatch(&rest, &gateway, &anyone.trust_list(None)).await;
    assert_eq!(listed["type"], 4, "{listed:#}");
    let text = listed["data"].to_string();
    assert!(text.contains(NEW_ROOT), "{listed:#}");
    assert!(text.contains("candidate"), "{listed:#}");

    // A member without the approver role: an ephemeral refusal, nothing changes.
    let refused = dispatch(&rest, &gateway, &anyone.trust_approve(NEW_ROOT)).await;
    assert_eq!(refused["type"], 4, "{refused:#}");
    assert_eq!(refused["data"]["flags"], 64, "ephemeral: {refused:#}");
    assert!(
        refused["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("approver role"),
        "{refused:#}"
    );
    let anchors = cli_json(&bot, &["trust", "list", "--format", "json"]).await;
    assert_eq!(
        anchor_state(&anchors, NEW_ROOT).as_deref(),
        Some("candidate"),
        "{anchors:#}"
    );

    // A member with the role: approved, audited with their Discord user id.
    let approver = Invoker::approver();
    let approved = dispatch(&rest, &gateway, &approver.trust_approve(NEW_ROOT)).await;
    assert_eq!(approved["type"], 4, "{approved:#}");
    assert!(
        approved["data"].to_string().contains(NEW_ROOT),
        "{approved:#}"
    );
    let anchors = cli_json(&bot, &["trust", "list", "--format", "json"]).await;
    assert_eq!(
        anchor_state(&anchors, NEW_ROOT).as_deref(),
        Some("approved"),
        "{anchors:#}"
    );
    let audit = cli_json(&bot, &["trust", "audit", "--format", "json"]).await;
    let last = audit.as_array().unwrap().last().unwrap();
    assert_eq!(last["sha256"], NEW_ROOT, "{audit:#}");
    assert!(
        last["actor"]
            .as_str()
            .unwrap_or_default()
            .contains(&approver.user_id.to_string()),
        "{last:#}"
    );

    // /verify with an attachment: deferred (type 5), then the original response edited
    // with the verdict, through the application id learnt from READY.
    let zip = std::fs::read(PACKAGE).unwrap();
    let url = rest.add_attachment("Full-upgrade-package-dten.zip", zip.clone());
    let verify = anyone.verify_attachment("Full-upgrade-package-dten.zip", &url, zip.len() as u32);
    let ack = dispatch(&rest, &gateway, &verify).await;
    assert_eq!(ack["type"], 5, "{ack:#}");
    let token = verify["token"].as_str().unwrap().to_owned();
    let original = format!("/api/v10/webhooks/{APPLICATION_ID}/{token}/messages/@original");
    let requests = rest
        .wait_for("the deferred answer's edit", ANSWERED, |reqs| {
            reqs.iter().any(|r| r.is("PATCH", &original))
        })
        .await;
    let fetched = requests
        .iter()
        .position(|r| r.is("GET", "/attachments/Full-upgrade-package-dten.zip"))
        .expect("the attachment was downloaded");
    let ack_at = requests
        .iter()
        .position(|r| r.is("POST", &callback_path(&verify)))
        .unwrap();
    let edit_at = requests
        .iter()
        .position(|r| r.is("PATCH", &original))
        .unwrap();
    assert!(ack_at < edit_at && fetched < edit_at, "{requests:#?}");
    let edited = rest.original(&token).expect("the edit is recorded");
    assert!(
        edited["embeds"].to_string().contains("TRUSTED"),
        "the package chains to the root just approved: {edited:#}"
    );

    // The other commands beside the bot: forwarded to it, nothing posted twice.
    let polled = tokio::task::block_in_place(|| bot.cli(&["poll", "--once"]));
    common::assert_ok(&polled);
    assert!(
        common::stdout(&polled).contains("no new findings"),
        "{}",
        common::stdout(&polled)
    );
    let notified = tokio::task::block_in_place(|| bot.cli(&["notify", "--test"]));
    common::assert_ok(&notified);
    assert_eq!(common::stdout(&notified), "discord: OK\n");
    let created = rest.created_messages();
    let mut nonces: Vec<&str> = created.iter().filter_map(|m| m["nonce"].as_str()).collect();
    let all = nonces.len();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), all, "a notice was posted twice: {created:#?}");
    assert!(created.iter().any(|m| m["content"]
        .as_str()
        .unwrap_or("")
        .contains("test message from `trustwatch notify --test`")));

    // SIGTERM: exit 0 in time, the gateway connection closed cleanly, no token in the log.
    let (code, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
    assert_eq!(code, Some(0), "run's log:\n{log}");
    assert!(!log.contains(TOKEN), "the token leaked into the log");
    let closed = wait_for("the client's close frame", ANSWERED, || {
        gateway.connections().first().and_then(|c| c.client_close)
    })
    .await;
    assert_eq!(closed, 1000);
    assert_eq!(gateway.connections().len(), 1, "one connection all along");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_refuses_the_token_stops_chat_but_not_the_watchers() {
    let (rest, gateway) = fakes().await;
    // Discord no longer takes the token: the gateway closes Identify with 4004 and the
    // channel refuses posts with 401 (the gateway address is still handed out).
    gateway.refuse_identify();
    rest.fail_next(
        "POST",
        "/api/v10/channels/",
        usize::MAX,
        Failure::Json {
            status: 401,
            code: 0,
            message: "401: Unauthorized",
        },
    );
    let bot = start(&rest);
    let refused = format!("Discord refused the token in ${TOKEN_VAR}");
    bot.wait_for_log(&refused, ANSWERED).await;

    // The watchers go on: both sources polled, the findings recorded for the discord sink.
    let st = wait_for_status(&bot, |st| {
        let polled = st["sources"]
            .as_array()
            .is_some_and(|s| s.len() == 2 && s.iter().all(|s| s["last_poll"].is_string()));
        let sink = discord_sink(st);
        let queued = sink["pending"].as_u64().unwrap_or(0) + sink["failed"].as_u64().unwrap_or(0);
        polled && queued >= 2
    })
    .await;
    let sink = discord_sink(&st);
    assert_eq!(sink["delivered"], 0, "{sink:#}");
    assert!(
        sink["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("401"),
        "{sink:#}"
    );
    // Status says chat stopped, and why.
    assert_eq!(st["chat"]["health"], "stopped", "{st:#}");
    assert_eq!(st["chat"]["transport"], "gateway");
    assert!(
        st["chat"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("refused the token"),
        "{st:#}"
    );
    let text = tokio::task::block_in_place(|| bot.cli(&["status"]));
    common::assert_ok(&text);
    assert!(
        common::stdout(&text).contains("discord: "),
        "{}",
        common::stdout(&text)
    );
    assert!(
        common::stdout(&text).contains("chat (Discord, gateway): STOPPED"),
        "{}",
        common::stdout(&text)
    );

    assert!(
        bot.log().contains("forwarded command done"),
        "status went through the control socket"
    );

    // One Identify, no reconnect with a refused token; the reason said once.
    assert_eq!(
        gateway.connections().len(),
        1,
        "{:?}",
        gateway.connections()
    );
    bot.assert_running();
    let log = bot.log();
    assert_eq!(count(&log, &refused), 1, "run's log:\n{log}");

    let (code, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
    assert_eq!(code, Some(0), "run's log:\n{log}");
    assert!(!log.contains(TOKEN), "the token leaked into the log");
    assert_eq!(count(&log, &refused), 1, "said again at exit:\n{log}");
}

fn discord_sink(st: &Value) -> Value {
    st["sinks"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["sink"] == "discord").cloned())
        .unwrap_or(Value::Null)
}

/// `trustwatch status --format json` beside the bot until `done` holds.
async fn wait_for_status(bot: &RunningBot, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + POLLED;
    loop {
        let st = cli_json(bot, &["status", "--format", "json"]).await;
        if done(&st) {
            return st;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never showed both sources polled and the findings queued: {st:#}\nrun's log:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
