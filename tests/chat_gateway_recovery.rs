//! The gateway way in when Discord misbehaves, whole-program (the real `trustwatch run`
//! against the fake REST API and fake gateway): a failing gateway-address request is
//! asked again with doubling backoff (chat/serve.rs supervision), a session Discord drops
//! is reconnected and commands are answered again without re-registering, a fatal close
//! (4004, 4014) stops chat once and never the watchers, and SIGTERM ends `run` promptly
//! whatever state chat is in, after letting a deferred answer finish its edit.

mod common;

use std::time::{Duration, Instant};

use common::discord::{Failure, Invoker, APPLICATION_ID, GUILD_ID, TOKEN};
use common::gateway::wait_for;
use common::http::{Response, Server};
use common::runbot::{
    cli_json, count, dispatch, fakes, start_over_gateway as start, ANSWERED, STOPPED,
};

const GATEWAY_BOT: &str = "/api/v10/gateway/bot";

fn registration() -> String {
    format!("/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_gateway_address_is_asked_again_with_backoff() {
    let (rest, gateway) = fakes().await;
    rest.fail_next("GET", GATEWAY_BOT, 2, Failure::Status(500));
    let bot = start(&rest);

    let identify = wait_for("the Identify after two failures", ANSWERED, || {
        gateway
            .connections()
            .first()
            .and_then(|c| c.identifies.first().cloned())
    })
    .await;
    assert_eq!(identify["token"], format!("Bot {TOKEN}"));
    assert_eq!(rest.requests_to("GET", GATEWAY_BOT).len(), 3);
    let log = bot.log();
    assert_eq!(
        count(&log, "chat transport failed; restarting"),
        2,
        "run's log:\n{log}"
    );
    // Backoff doubles: 1 s after the first failure, 2 s after the second.
    assert!(log.contains("retry_in_secs=1"), "{log}");
    assert!(log.contains("retry_in_secs=2"), "{log}");

    // Chat is up now: commands registered, a command answered.
    rest.wait_for("the command registration", ANSWERED, |reqs| {
        reqs.iter().any(|r| r.is("PUT", &registration()))
    })
    .await;
    let answer = dispatch(&rest, &gateway, &Invoker::default().status()).await;
    assert_eq!(answer["type"], 4, "{answer:#}");

    let (code, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
    assert_eq!(code, Some(0), "run's log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_session_is_reconnected_and_commands_are_answered_again() {
    let (rest, gateway) = fakes().await;
    let bot = start(&rest);
    rest.wait_for("the command registration", ANSWERED, |reqs| {
        reqs.iter().any(|r| r.is("PUT", &registration()))
    })
    .await;
    let anyone = Invoker::default();
    let first = dispatch(&rest, &gateway, &anyone.trust_list(None)).await;
    assert_eq!(first["type"], 4, "{first:#}");

    // Discord drops the session (4000: unknown error, the client may reconnect).
    gateway.close_all(4000);
    wait_for("a new Identify on a second connection", ANSWERED, || {
        let connections = gateway.connections();
        connections
            .iter()
            .skip(1)
            .any(|c| !c.identifies.is_empty())
            .then_some(())
    })
    .await;
    let again = dispatch(&rest, &gateway, &anyone.trust_list(None)).await;
    assert_eq!(again["type"], 4, "{again:#}");
    assert_eq!(
        rest.requests_to("PUT", &registration()).len(),
        1,
        "commands are registered once per run, not on every READY"
    );
    // The bot's state is intact: the CLI beside it still works.
    let anchors = cli_json(&bot, &["trust", "list", "--format", "json"]).await;
    assert!(
        anchors.as_array().is_some_and(|a| !a.is_empty()),
        "{anchors:#}"
    );

    let (code, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
    assert_eq!(code, Some(0), "run's log:\n{log}");
    assert!(!log.contains(TOKEN), "the token leaked into the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_run_promptly_while_the_gateway_is_unreachable() {
    let (rest, gateway) = fakes().await;
    // A loopback port with nothing listening: serenity's shard keeps failing to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("ws://{}", closed.local_addr().unwrap());
    drop(closed);
    rest.set_gateway_url(&closed_url);
    let bot = start(&rest);
    rest.wait_for("the gateway address request", ANSWERED, |reqs| {
        reqs.iter().any(|r| r.is("GET", GATEWAY_BOT))
    })
    .await;
    // The watchers run meanwhile: the online line goes out through REST.
    rest.wait_for("the online line", ANSWERED, |_| {
        rest.created_messages()
            .iter()
            .any(|m| m["content"].as_str().unwrap_or("").contains("online"))
    })
    .await;
    let asked = Instant::now();
    let (code, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
    assert_eq!(code, Some(0), "run's log:\n{log}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        asked.elapsed()
    );
    assert!(gateway.connections().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_close_mid_session_stops_chat_once_but_not_the_watchers() {
    // 4004: the token was reset while the bot ran; 4014: intents no longer allowed.
    for (code, said) in [
        (4004, "Discord refused the token in $TW_TEST_DISCORD_TOKEN"),
        (4014, "Discord refused the gateway intents"),
    ] {
        let (rest, gateway) = fakes().await;
        let bot = start(&rest);
        rest.wait_for("the command registration", ANSWERED, |reqs| {
            reqs.iter().any(|r| r.is("PUT", &registration()))
        })
        .await;
        gateway.close_all(code);
        bot.wait_for_log(said, ANSWERED).await;
        // No reconnect after a fatal close, and the CLI beside the bot still works.
        let status = cli_json(&bot, &["status", "--format", "json"]).await;
        assert!(status["sources"].is_array(), "{status:#}");
        assert_eq!(gateway.connections().len(), 1, "{code}: reconnected");
        bot.assert_running();
        let (exit, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
        assert_eq!(exit, Some(0), "{code}: run's log:\n{log}");
        assert_eq!(count(&log, said), 1, "{code}: run's log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_run_promptly_while_chat_waits_to_restart() {
    let (rest, gateway) = fakes().await;
    rest.fail_next("GET", GATEWAY_BOT, usize::MAX, Failure::Status(502));
    let bot = start(&rest);
    // Two failures: serve is now sleeping out its backoff (1 s, then 2 s).
    rest.wait_for("a second gateway address request", ANSWERED, |reqs| {
        reqs.iter().filter(|r| r.is("GET", GATEWAY_BOT)).count() >= 2
    })
    .await;
    let asked = Instant::now();
    let (code, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
    assert_eq!(code, Some(0), "run's log:\n{log}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "took {:?} to stop",
        asked.elapsed()
    );
    assert!(gateway.connections().is_empty());
    assert!(log.contains("chat transport failed; restarting"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_deferred_verify_finish_its_edit() {
    let (rest, gateway) = fakes().await;
    let bot = start(&rest);
    rest.wait_for("the command registration", ANSWERED, |reqs| {
        reqs.iter().any(|r| r.is("PUT", &registration()))
    })
    .await;
    // The package comes from a slow server: the job is still downloading at SIGTERM.
    let zip = std::fs::read("config/examples/Full-upgrade-package-dten.zip").unwrap();
    let server = Server::start();
    server.handle(move |_| Response {
        delay: Duration::from_secs(2),
        ..Response::ok(zip.clone())
    });
    let verify = Invoker::default().verify_url(&server.url("/pkg.zip"));
    let ack = dispatch(&rest, &gateway, &verify).await;
    assert_eq!(ack["type"], 5, "{ack:#}");
    wait_for("the download to start", ANSWERED, || {
        (server.count("/pkg.zip") > 0).then_some(())
    })
    .await;
    let (code, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
    assert_eq!(code, Some(0), "run's log:\n{log}");
    let token = verify["token"].as_str().unwrap();
    let edited = rest
        .original(token)
        .unwrap_or_else(|| panic!("the answer was never edited; run's log:\n{log}"));
    // The verdict (UNKNOWN or PENDING, as far as the watchers got) with the escalation
    // script: the whole job ran, not a placeholder.
    let verdict = edited["embeds"].to_string();
    assert!(
        verdict.contains("UNKNOWN") || verdict.contains("PENDING"),
        "{edited:#}"
    );
    assert!(
        edited["attachments"].to_string().contains("escalate.sh"),
        "{edited:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_registration_that_fails_for_a_while_is_tried_again() {
    let (rest, gateway) = fakes().await;
    rest.fail_next("PUT", "/api/v10/applications/", 2, Failure::Status(502));
    let bot = start(&rest);
    rest.wait_for("a successful registration", ANSWERED, |_| {
        !rest.commands(Some(GUILD_ID)).is_empty()
    })
    .await;
    assert_eq!(rest.requests_to("PUT", &registration()).len(), 3);
    assert_eq!(gateway.connections().len(), 1, "without a reconnect");
    let (code, log) = tokio::task::block_in_place(|| bot.stop(STOPPED));
    assert_eq!(code, Some(0), "run's log:\n{log}");
}
