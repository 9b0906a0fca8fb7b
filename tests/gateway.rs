//! The Discord gateway transport with the real serenity client (`run_gateway`) against a
//! fake gateway and REST stub on loopback (tests/common/gateway.rs): identify, READY and
//! command registration, interactions answered at once or deferred, shutdown, a refused
//! token; and the REST client's `api_base` rewrite.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::gateway::{
    command_interaction, wait_for, FakeDiscord, RestRequest, APPLICATION_ID, CHANNEL_ID, GUILD_ID,
};
use serde_json::{json, Value};
use serenity::all::{
    ChannelId, CreateInteractionResponse, CreateInteractionResponseMessage, GuildId, Http,
    Interaction,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trustwatch::chat::discord::{self, Error};
use trustwatch::chat::gateway::run_gateway;
use trustwatch::chat::handler::{First, Handler};
use trustwatch::config::DiscordConfig;

const TOKEN: &str = "fake.bot-token.for-tests";
const DEADLINE: Duration = Duration::from_secs(10);
const HEARTBEAT: Duration = Duration::from_millis(300);

fn config(api_base: &str, application_id: Option<u64>) -> DiscordConfig {
    DiscordConfig {
        token_env: "DISCORD_TOKEN".to_owned(),
        channel_id: CHANNEL_ID,
        approver_role_id: 1,
        guild_id: None,
        application_id,
        api_base: api_base.to_owned(),
        interactions_public_key: None,
        interactions_listen: None,
    }
}

/// `/status` is answered at once (type 4); `/verify` is deferred (type 5, ephemeral) and
/// its job posts "job done" to the channel through REST.
struct TestHandler {
    http: Arc<Http>,
    seen: Mutex<Vec<String>>,
    job_ran: Arc<AtomicBool>,
}

impl Handler for TestHandler {
    fn first(&self, interaction: Interaction) -> First {
        let name = interaction
            .as_command()
            .map(|c| c.data.name.clone())
            .unwrap_or_default();
        self.seen.lock().unwrap().push(name.clone());
        if name == "verify" {
            let http = Arc::clone(&self.http);
            let job_ran = Arc::clone(&self.job_ran);
            First::Later {
                ack: CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new().ephemeral(true),
                ),
                job: Box::pin(async move {
                    ChannelId::new(CHANNEL_ID)
                        .say(&http, "job done")
                        .await
                        .unwrap();
                    job_ran.store(true, Ordering::SeqCst);
                }),
            }
        } else {
            First::Now(CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new().content("all good"),
            ))
        }
    }
}

struct Running {
    fake: FakeDiscord,
    handler: Arc<TestHandler>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<(), Error>>,
}

async fn start(token: &str) -> Running {
    let fake = FakeDiscord::start(TOKEN, HEARTBEAT).await;
    let config = config(&fake.api_base, None);
    let http = discord::http(&config, token).unwrap();
    let handler = Arc::new(TestHandler {
        http: Arc::clone(&http),
        seen: Mutex::new(Vec::new()),
        job_ran: Arc::new(AtomicBool::new(false)),
    });
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(run_gateway(
        token.to_owned(),
        config,
        Arc::clone(&handler) as Arc<dyn Handler>,
        http,
        rx,
    ));
    Running {
        fake,
        handler,
        shutdown,
        task,
    }
}

/// Wait until the shard identified and the commands were registered (READY handled).
async fn wait_ready(fake: &FakeDiscord) -> Value {
    wait_for("the command registration PUT", DEADLINE, || {
        fake.rest_matching("PUT", "/api/v10/applications/")
            .first()
            .map(RestRequest::json)
    })
    .await
}

async fn stop(running: Running) -> FakeDiscord {
    running.shutdown.send(true).unwrap();
    let result = tokio::time::timeout(DEADLINE, running.task)
        .await
        .expect("run_gateway did not return after shutdown")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    running.fake
}

fn callbacks(fake: &FakeDiscord, interaction_id: u64) -> Vec<Value> {
    fake.rest_matching(
        "POST",
        &format!(
            "/api/v10/interactions/{interaction_id}/interaction-token-{interaction_id}/callback"
        ),
    )
    .iter()
    .map(RestRequest::json)
    .collect()
}

#[tokio::test]
async fn identifies_with_the_token_and_guilds_only_then_registers_the_commands() {
    let running = start(TOKEN).await;
    let registered = wait_ready(&running.fake).await;

    let connections = running.fake.connections();
    assert_eq!(connections.len(), 1, "{connections:?}");
    let connection = &connections[0];
    assert!(connection.uri.contains("v=10"), "{}", connection.uri);
    assert_eq!(connection.identifies.len(), 1);
    let identify = &connection.identifies[0];
    assert_eq!(identify["token"], format!("Bot {TOKEN}"));
    assert_eq!(identify["intents"], 1, "GUILDS (1 << 0) only");
    assert_eq!(identify["shard"], json!([0, 1]));

    // Global registration (no guild_id), with the application id READY carried.
    let puts = running.fake.rest_matching("PUT", "/api/v10/applications/");
    assert_eq!(puts.len(), 1);
    assert_eq!(
        puts[0].path,
        format!("/api/v10/applications/{APPLICATION_ID}/commands")
    );
    let mut names = Vec::new();
    for command in registered.as_array().unwrap() {
        let name = command["name"].as_str().unwrap();
        let subcommands: Vec<&str> = command["options"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == 1)
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        if subcommands.is_empty() {
            names.push(name.to_owned());
        } else {
            names.extend(subcommands.iter().map(|s| format!("{name} {s}")));
        }
    }
    assert_eq!(
        names,
        [
            "verify",
            "trust list",
            "trust approve",
            "trust revoke",
            "escalate",
            "status"
        ]
    );

    // The gateway address was asked of the REST stub (never of the real Discord).
    assert!(!running
        .fake
        .rest_matching("GET", "/api/v10/gateway/bot")
        .is_empty());
    // Heartbeats are answered, so the shard stays on one connection.
    let fake = &running.fake;
    wait_for("a heartbeat", DEADLINE, || {
        (fake.connections()[0].heartbeats >= 2).then_some(())
    })
    .await;
    assert_eq!(running.fake.connections().len(), 1);
    stop(running).await;
}

#[tokio::test]
async fn a_slash_command_answered_now_gets_exactly_one_callback() {
    let running = start(TOKEN).await;
    wait_ready(&running.fake).await;

    running.fake.dispatch(
        "INTERACTION_CREATE",
        command_interaction(1_111, "status", json!([])),
    );
    let fake = &running.fake;
    let body = wait_for("the callback POST", DEADLINE, || {
        callbacks(fake, 1_111).into_iter().next()
    })
    .await;
    assert_eq!(body["type"], 4);
    assert_eq!(body["data"]["content"], "all good");
    assert_eq!(*running.handler.seen.lock().unwrap(), ["status"]);

    // Exactly one: give a duplicate a moment to show up, then count.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(callbacks(&running.fake, 1_111).len(), 1);
    stop(running).await;
}

#[tokio::test]
async fn a_deferred_command_is_acknowledged_then_its_job_runs() {
    let running = start(TOKEN).await;
    wait_ready(&running.fake).await;

    let options = json!([{"name": "url", "type": 3, "value": "https://dten.example/p.zip"}]);
    running.fake.dispatch(
        "INTERACTION_CREATE",
        command_interaction(2_222, "verify", options),
    );
    let job_ran = Arc::clone(&running.handler.job_ran);
    wait_for("the deferred job", DEADLINE, || {
        job_ran.load(Ordering::SeqCst).then_some(())
    })
    .await;

    let acks = callbacks(&running.fake, 2_222);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["type"], 5);
    assert_eq!(acks[0]["data"]["flags"], 64, "ephemeral");
    // The ack reached the API before the job's own request.
    let requests = running.fake.rest_requests();
    let position = |prefix: &str| {
        requests
            .iter()
            .position(|r| r.method == "POST" && r.path.starts_with(prefix))
            .unwrap()
    };
    assert!(
        position("/api/v10/interactions/2222/") < position("/api/v10/channels/"),
        "{requests:?}"
    );
    stop(running).await;
}

#[tokio::test]
async fn shutdown_returns_promptly_and_closes_the_connection_cleanly() {
    let running = start(TOKEN).await;
    wait_ready(&running.fake).await;
    let fake = stop(running).await;
    let closed = wait_for("the client's close frame", DEADLINE, || {
        fake.connections()[0].client_close
    })
    .await;
    assert_eq!(closed, 1000);
}

#[tokio::test]
async fn shutdown_while_the_gateway_is_unreachable_still_returns() {
    let fake = FakeDiscord::start(TOKEN, HEARTBEAT).await;
    // A loopback port with nothing listening: the shard's connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("ws://{}", closed.local_addr().unwrap());
    drop(closed);
    fake.point_gateway_at(&closed_url);
    let config = config(&fake.api_base, None);
    let http = discord::http(&config, TOKEN).unwrap();
    let handler = Arc::new(TestHandler {
        http: Arc::clone(&http),
        seen: Mutex::new(Vec::new()),
        job_ran: Arc::new(AtomicBool::new(false)),
    });
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(run_gateway(TOKEN.to_owned(), config, handler, http, rx));
    wait_for("the gateway address request", DEADLINE, || {
        (!fake.rest_matching("GET", "/api/v10/gateway/bot").is_empty()).then_some(())
    })
    .await;
    shutdown.send(true).unwrap();
    let result = tokio::time::timeout(DEADLINE, task)
        .await
        .expect("run_gateway did not return after shutdown")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(fake.connections().is_empty());
}

#[tokio::test]
async fn a_refused_token_says_which_variable_to_fix() {
    let running = start("not-the-token").await;
    let result = tokio::time::timeout(DEADLINE, running.task)
        .await
        .expect("run_gateway did not give up on a refused token")
        .unwrap();
    let err = result.unwrap_err();
    assert!(matches!(err, Error::TokenRefused { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("Discord refused the token in $DISCORD_TOKEN: reset it"),
        "{text}"
    );
    assert!(!text.contains("not-the-token"), "{text}");
    // Refused before any WebSocket connection.
    assert!(running.fake.connections().is_empty());
}

#[tokio::test]
async fn a_token_refused_by_the_gateway_ends_the_client_with_the_same_message() {
    let fake = FakeDiscord::start(TOKEN, HEARTBEAT).await;
    fake.refuse_identify();
    let config = config(&fake.api_base, None);
    let http = discord::http(&config, TOKEN).unwrap();
    let handler = Arc::new(TestHandler {
        http: Arc::clone(&http),
        seen: Mutex::new(Vec::new()),
        job_ran: Arc::new(AtomicBool::new(false)),
    });
    let (_shutdown, rx) = watch::channel(false);
    let result = tokio::time::timeout(
        DEADLINE,
        run_gateway(TOKEN.to_owned(), config, handler, http, rx),
    )
    .await
    .expect("run_gateway did not give up after close code 4004");
    let err = result.unwrap_err();
    assert!(matches!(err, Error::TokenRefused { .. }), "{err:?}");
    assert_eq!(
        fake.connections().len(),
        1,
        "no reconnect with a refused token"
    );
}

#[tokio::test]
async fn the_rest_client_sends_everything_to_api_base() {
    let fake = FakeDiscord::start(TOKEN, HEARTBEAT).await;
    let http = discord::http(&config(&format!("{}/", fake.api_base), None), TOKEN).unwrap();
    let message = ChannelId::new(1).say(&http, "x").await.unwrap();
    assert_eq!(message.content, "x");
    let posts = fake.rest_matching("POST", "/api/v10/channels/1/messages");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str())
    );
    assert_eq!(posts[0].json()["content"], "x");
}

#[tokio::test]
async fn commands_register_for_the_configured_guild_with_the_configured_application() {
    let fake = FakeDiscord::start(TOKEN, HEARTBEAT).await;
    let config = config(&fake.api_base, Some(APPLICATION_ID));
    let http = discord::http(&config, TOKEN).unwrap();
    let id = discord::application_id(&http, &config).await.unwrap();
    assert_eq!(id.get(), APPLICATION_ID);
    let registered = discord::register_commands(&http, Some(GuildId::new(GUILD_ID)))
        .await
        .unwrap();
    assert_eq!(registered.len(), 4);
    let puts = fake.rest_matching("PUT", "/api/v10/applications/");
    assert_eq!(
        puts[0].path,
        format!("/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands")
    );
    // No REST call was needed to learn the application id.
    assert_eq!(fake.rest_requests().len(), 1);
}

#[tokio::test]
async fn without_a_configured_application_id_it_is_asked_of_the_api() {
    let fake = FakeDiscord::start(TOKEN, HEARTBEAT).await;
    let config = config(&fake.api_base, None);
    let http = discord::http(&config, TOKEN).unwrap();
    assert_eq!(http.application_id(), None);
    let id = discord::application_id(&http, &config).await.unwrap();
    assert_eq!(id.get(), APPLICATION_ID);
    assert_eq!(http.application_id(), Some(id));
    assert_eq!(
        fake.rest_matching("GET", "/api/v10/oauth2/applications/@me")
            .len(),
        1
    );

    let refused = discord::http(&config, "not-the-token").unwrap();
    let err = discord::application_id(&refused, &config)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TokenRefused { .. }), "{err:?}");
}

#[test]
fn the_interaction_fixture_is_what_serenity_accepts() {
    let value = command_interaction(3_333, "status", json!([]));
    let interaction: Interaction = serde_json::from_value(value).unwrap();
    let command = interaction.as_command().expect("a command interaction");
    assert_eq!(command.data.name, "status");
    assert_eq!(command.token, "interaction-token-3333");
    let member = command.member.as_ref().unwrap();
    assert_eq!(member.guild_id.get(), GUILD_ID);
    assert_eq!(member.roles.len(), 1);
}
