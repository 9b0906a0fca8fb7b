//! The HTTP interactions endpoint (CONTRACT §6) over real sockets: signed requests from
//! a reqwest client, a small test `Handler`, and deferred jobs that edit `@original`
//! through serenity's `Http` against the fake Discord API. Also checks the fake API
//! itself against serenity (nonces, multipart, failures), so the Discord sink can rely
//! on it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::discord::{
    Failure, FakeDiscord, Invoker, Outage, Signer, APPLICATION_ID, CHANNEL_ID, GUILD_ID, TOKEN,
};
use serde_json::{json, Value};
use serenity::all::{
    ChannelId, Command, CreateAttachment, CreateCommand, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage, EditInteractionResponse, GuildId, Interaction,
    Nonce,
};
use serenity::http::{Http, HttpError};
use tokio::sync::{watch, Notify};
use trustwatch::chat::handler::{First, Handler};
use trustwatch::chat::interactions::{self, InteractionsError};

const WAIT: Duration = Duration::from_secs(10);

/// `/trust list` answers at once; any other command is deferred and its job edits
/// `@original`; a button is acknowledged (type 6) and its job edits the message too.
struct TestHandler {
    calls: AtomicUsize,
    http: Arc<Http>,
    /// When set, deferred jobs wait for it before editing (for the shutdown test).
    gate: Option<Arc<Notify>>,
}

impl Handler for TestHandler {
    fn first(&self, interaction: Interaction) -> First {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let http = self.http.clone();
        let gate = self.gate.clone();
        match interaction {
            Interaction::Command(cmd) if cmd.data.name == "boom" => panic!("a buggy command"),
            Interaction::Command(cmd)
                if cmd.data.name == "trust"
                    && cmd.data.options.first().map(|o| o.name.as_str()) == Some("list") =>
            {
                First::Now(CreateInteractionResponse::Message(
                    CreateInteractionResponseMessage::new().content("2 anchors: dten, acme"),
                ))
            }
            Interaction::Command(cmd) => First::Later {
                ack: CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new().ephemeral(true),
                ),
                job: Box::pin(async move {
                    if let Some(gate) = gate {
                        gate.notified().await;
                    }
                    let edit =
                        EditInteractionResponse::new().content(format!("done: /{}", cmd.data.name));
                    cmd.edit_response(&http, edit).await.unwrap();
                }),
            },
            Interaction::Component(press) => First::Later {
                ack: CreateInteractionResponse::Acknowledge,
                job: Box::pin(async move {
                    let edit = EditInteractionResponse::new()
                        .content(format!("pressed {}", press.data.custom_id));
                    press.edit_response(&http, edit).await.unwrap();
                }),
            },
            _ => First::Now(CreateInteractionResponse::Acknowledge),
        }
    }
}

struct Endpoint {
    url: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), InteractionsError>>,
    handler: Arc<TestHandler>,
    fake: FakeDiscord,
    client: reqwest::Client,
    signer: Signer,
}

impl Endpoint {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    async fn start_with(gate: Option<Arc<Notify>>) -> Self {
        let fake = FakeDiscord::start().await;
        let handler = Arc::new(TestHandler {
            calls: AtomicUsize::new(0),
            http: Arc::new(fake.http()),
            gate,
        });
        let signer = Signer::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}{}",
            listener.local_addr().unwrap(),
            interactions::PATH
        );
        let (stop, shutdown) = watch::channel(false);
        let key = signer.public_key_hex();
        let dyn_handler: Arc<dyn Handler> = handler.clone();
        let task = tokio::spawn(async move {
            interactions::serve(listener, &key, dyn_handler, shutdown).await
        });
        Self {
            url,
            stop,
            task,
            handler,
            fake,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            signer,
        }
    }

    fn calls(&self) -> usize {
        self.handler.calls.load(Ordering::SeqCst)
    }

    async fn post_raw(&self, body: Vec<u8>, headers: &[(&str, String)]) -> (u16, Vec<u8>) {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }

    /// POST `body` signed now; returns the status and the JSON answer (Null if none).
    async fn post(&self, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let headers = self.signer.headers(&bytes);
        let (status, answer) = self.post_raw(bytes, &headers).await;
        (
            status,
            serde_json::from_slice(&answer).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_pong_without_the_handler() {
    let ep = Endpoint::start().await;
    let body = serde_json::to_vec(&Invoker::default().ping()).unwrap();
    let headers = ep.signer.headers(&body);
    let response = ep
        .client
        .post(&ep.url)
        .header(headers[0].0, &headers[0].1)
        .header(headers[1].0, &headers[1].1)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let answer: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer, json!({"type": 1}));
    assert_eq!(ep.calls(), 0);
}

/// A refusal case: name, body, headers.
type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, String)>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badly_signed_requests_are_refused_before_the_handler() {
    let ep = Endpoint::start().await;
    let body = serde_json::to_vec(&Invoker::default().trust_list(None)).unwrap();
    let good = ep.signer.headers(&body);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let other = Signer::from_seed([9; 32]).headers(&body);
    let mut flipped = good.clone();
    let last = flipped[0].1.pop().unwrap();
    flipped[0].1.push(if last == '0' { '1' } else { '0' });
    let mut tampered = body.clone();
    *tampered.last_mut().unwrap() = b' ';

    let cases: Vec<Case<'_>> = vec![
        ("no headers", body.clone(), vec![]),
        ("no timestamp", body.clone(), vec![good[0].clone()]),
        ("no signature", body.clone(), vec![good[1].clone()]),
        (
            "signature not hex",
            body.clone(),
            vec![("X-Signature-Ed25519", "zz".repeat(64)), good[1].clone()],
        ),
        (
            "signature too short",
            body.clone(),
            vec![("X-Signature-Ed25519", "ab".repeat(32)), good[1].clone()],
        ),
        ("one bit off", body.clone(), flipped.to_vec()),
        ("another key", body.clone(), other.to_vec()),
        ("tampered body", tampered, good.to_vec()),
        (
            "stale timestamp",
            body.clone(),
            ep.signer
                .headers_at(&(now - 301).to_string(), &body)
                .to_vec(),
        ),
        (
            "future timestamp",
            body.clone(),
            ep.signer
                .headers_at(&(now + 600).to_string(), &body)
                .to_vec(),
        ),
        (
            "timestamp not a number",
            body.clone(),
            ep.signer.headers_at("yesterday", &body).to_vec(),
        ),
        (
            "timestamp header differs from the signed one",
            body.clone(),
            vec![
                good[0].clone(),
                ("X-Signature-Timestamp", (now - 1).to_string()),
            ],
        ),
    ];
    for (case, body, headers) in cases {
        let (status, answer) = ep.post_raw(body, &headers).await;
        assert_eq!(status, 401, "{case}");
        assert!(answer.is_empty(), "{case}: no body on a refusal");
    }
    assert_eq!(ep.calls(), 0, "the handler never ran");
    // A timestamp a little off is still fine (clock drift).
    let skewed = ep.signer.headers_at(&(now - 120).to_string(), &body);
    assert_eq!(ep.post_raw(body, &skewed).await.0, 200);
    assert_eq!(ep.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_unknown_requests_are_refused() {
    let ep = Endpoint::start().await;
    // Signed, but not JSON / not an interaction / an unknown interaction type.
    for (case, body) in [
        ("not JSON", b"{not json".to_vec()),
        ("JSON array", b"[1,2,3]".to_vec()),
        ("no type", br#"{"id":"1"}"#.to_vec()),
        (
            "unknown type",
            serde_json::to_vec(&json!({"type": 99, "id": "1"})).unwrap(),
        ),
        (
            "command missing required fields",
            serde_json::to_vec(&json!({"type": 2, "id": "1", "data": {"name": "status"}})).unwrap(),
        ),
    ] {
        let headers = ep.signer.headers(&body);
        assert_eq!(ep.post_raw(body, &headers).await.0, 400, "{case}");
    }
    assert_eq!(ep.calls(), 0);

    // Other methods and paths.
    let get = ep.client.get(&ep.url).send().await.unwrap();
    assert_eq!(get.status(), 405);
    let other = ep.url.replace("/interactions", "/other");
    assert_eq!(ep.client.post(&other).send().await.unwrap().status(), 404);
}

/// Send a request head and `body` over a raw socket; returns the response head. Raw,
/// because a client that is still writing a body when the server answers early may see
/// the connection reset instead of the answer (reqwest reports IncompleteMessage).
async fn raw_request(ep: &Endpoint, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = ep
        .url
        .trim_start_matches("http://")
        .trim_end_matches(interactions::PATH);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn signature_headers(ep: &Endpoint) -> String {
    let [(sig_name, sig), (ts_name, ts)] = ep.signer.headers(b"{}");
    format!("{sig_name}: {sig}\r\n{ts_name}: {ts}\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_refused_before_it_is_read() {
    let ep = Endpoint::start().await;
    // Only the head is sent: the declared length alone earns the 413.
    let head = format!(
        "POST /interactions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n{}\r\n",
        interactions::MAX_BODY + 1,
        signature_headers(&ep)
    );
    let answer = raw_request(&ep, &head, b"").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(ep.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_chunked_body_is_refused_while_reading() {
    let ep = Endpoint::start().await;
    // No length declared: the limit stops the read just past MAX_BODY.
    let head = format!(
        "POST /interactions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n{}\r\n",
        signature_headers(&ep)
    );
    let chunk = vec![b'x'; 16 * 1024];
    let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
    let mut body = frame.repeat(interactions::MAX_BODY / chunk.len() + 1);
    body.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_request(&ep, &head, &body).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(ep.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_answer_is_a_type_4_message() {
    let ep = Endpoint::start().await;
    let (status, answer) = ep.post(&Invoker::default().trust_list(Some("dten"))).await;
    assert_eq!(status, 200);
    assert_eq!(answer["type"], 4);
    assert_eq!(answer["data"]["content"], "2 anchors: dten, acme");
    assert_eq!(ep.calls(), 1);
    assert!(
        ep.fake.requests().is_empty(),
        "no REST call for an immediate answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_answer_is_type_5_then_one_edit_of_original() {
    let ep = Endpoint::start().await;
    let interaction = Invoker::default().status();
    let token = interaction["token"].as_str().unwrap().to_owned();
    let (status, answer) = ep.post(&interaction).await;
    assert_eq!(status, 200);
    assert_eq!(answer["type"], 5);
    assert_eq!(answer["data"]["flags"], 64, "ephemeral");

    let path = format!("/api/v10/webhooks/{APPLICATION_ID}/{token}/messages/@original");
    let seen = ep
        .fake
        .wait_for("PATCH @original", WAIT, |r| {
            r.iter().any(|r| r.is("PATCH", &path))
        })
        .await;
    let edits: Vec<_> = seen.iter().filter(|r| r.is("PATCH", &path)).collect();
    assert_eq!(edits.len(), 1, "{seen:#?}");
    assert_eq!(
        edits[0].header("authorization"),
        Some(format!("Bot {TOKEN}").as_str())
    );
    assert_eq!(edits[0].json().unwrap()["content"], "done: /status");
    assert_eq!(seen.len(), 1, "nothing but the edit: {seen:#?}");
    assert_eq!(
        ep.fake.original(&token).unwrap()["content"],
        "done: /status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn button_press_is_acknowledged_then_edited() {
    let ep = Endpoint::start().await;
    let press = Invoker::approver().button("approve:abcd");
    let token = press["token"].as_str().unwrap().to_owned();
    let (status, answer) = ep.post(&press).await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"type": 6}), "no \"data\": null");
    let path = format!("/api/v10/webhooks/{APPLICATION_ID}/{token}/messages/@original");
    ep.fake
        .wait_for("PATCH @original", WAIT, |r| {
            r.iter().any(|r| r.is("PATCH", &path))
        })
        .await;
    assert_eq!(
        ep.fake.original(&token).unwrap()["content"],
        "pressed approve:abcd"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_deferred_jobs() {
    let gate = Arc::new(Notify::new());
    let ep = Endpoint::start_with(Some(gate.clone())).await;
    let interaction = Invoker::default().escalate("ab".repeat(32).as_str());
    let token = interaction["token"].as_str().unwrap().to_owned();
    assert_eq!(ep.post(&interaction).await.1["type"], 5);
    ep.stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!ep.task.is_finished(), "a job is still running");
    gate.notify_one();
    let result = tokio::time::timeout(WAIT, ep.task).await.unwrap().unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        ep.fake.original(&token).unwrap()["content"],
        "done: /escalate"
    );
    // The port is closed now.
    assert!(ep.client.post(&ep.url).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_public_key_is_an_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (_stop, shutdown) = watch::channel(false);
    let fake = FakeDiscord::start().await;
    let handler: Arc<dyn Handler> = Arc::new(TestHandler {
        calls: AtomicUsize::new(0),
        http: Arc::new(fake.http()),
        gate: None,
    });
    let err = interactions::serve(listener, &"00".repeat(32), handler, shutdown)
        .await
        .unwrap_err();
    assert!(matches!(err, InteractionsError::PublicKey { .. }), "{err}");
    assert!(err.to_string().contains("interactions_public_key"), "{err}");
}

#[test]
fn fixtures_deserialize_as_serenity_interactions() {
    let approver = Invoker::approver();
    let cases = [
        approver.trust_list(None),
        approver.trust_list(Some("dten")),
        approver.trust_approve(&"ab".repeat(32)),
        approver.trust_revoke(&"ab".repeat(32), "compromised"),
        approver.verify_attachment("pkg.zip", "http://127.0.0.1:1/attachments/pkg.zip", 1234),
        approver.verify_url("https://dten.example/pkg.zip"),
        approver.status(),
        approver.escalate(&"ab".repeat(32)),
        Invoker::default().in_dm().status(),
    ];
    for case in cases {
        let Interaction::Command(cmd) = serde_json::from_value(case.clone()).unwrap() else {
            panic!("not a command: {case}");
        };
        assert_eq!(cmd.token, case["token"]);
        if let Some(member) = &cmd.member {
            assert_eq!(
                member.roles,
                vec![serenity::all::RoleId::new(
                    common::discord::APPROVER_ROLE_ID
                )]
            );
            assert_eq!(cmd.guild_id, Some(GuildId::new(GUILD_ID)));
        } else {
            assert_eq!(cmd.user.name, "operator");
        }
    }
    let verify: Interaction = serde_json::from_value(approver.verify_attachment(
        "pkg.zip",
        "http://127.0.0.1:1/attachments/pkg.zip",
        1234,
    ))
    .unwrap();
    let Interaction::Command(verify) = verify else {
        panic!()
    };
    let options = verify.data.options();
    let serenity::all::ResolvedValue::Attachment(att) = options[0].value else {
        panic!("{options:?}")
    };
    assert_eq!((att.filename.as_str(), att.size), ("pkg.zip", 1234));

    let Interaction::Component(press) =
        serde_json::from_value(Invoker::default().button("escalate:ab")).unwrap()
    else {
        panic!()
    };
    assert_eq!(press.data.custom_id, "escalate:ab");
    assert!(matches!(
        serde_json::from_value(Invoker::default().ping()).unwrap(),
        Interaction::Ping(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_api_deduplicates_enforced_nonces() {
    let fake = FakeDiscord::start().await;
    let http = fake.http();
    let channel = ChannelId::new(CHANNEL_ID);
    let send = || {
        channel.send_message(
            &http,
            CreateMessage::new()
                .content("rotation notice")
                .nonce(Nonce::String("outbox-42".into()))
                .enforce_nonce(true),
        )
    };
    let first = send().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(first.content, "rotation notice");
    assert_eq!(fake.created_messages().len(), 1);
    let path = format!("/api/v10/channels/{CHANNEL_ID}/messages");
    let posts = fake.requests_to("POST", &path);
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].json().unwrap()["enforce_nonce"], true);
    // Without enforce_nonce, a repeated nonce creates another message, as on Discord.
    channel
        .send_message(
            &http,
            CreateMessage::new().nonce(Nonce::String("outbox-42".into())),
        )
        .await
        .unwrap();
    assert_eq!(fake.created_messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_api_parses_multipart_and_serves_attachments() {
    let fake = FakeDiscord::start().await;
    let http = fake.http();
    let script = b"#!/bin/sh\n# escalate\n".to_vec();
    let message = ChannelId::new(CHANNEL_ID)
        .send_message(
            &http,
            CreateMessage::new()
                .content("unknown signer")
                .embed(
                    serenity::all::CreateEmbed::new()
                        .title("verdict")
                        .field("a", "b", true),
                )
                .button(serenity::all::CreateButton::new("escalate:ab").label("Escalate"))
                .add_file(CreateAttachment::bytes(script.clone(), "escalate.sh")),
        )
        .await
        .unwrap();
    assert_eq!(message.embeds[0].title.as_deref(), Some("verdict"));
    assert_eq!(message.components.len(), 1);
    let request = &fake.requests()[0];
    assert!(request
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data"));
    assert_eq!(request.json().unwrap()["content"], "unknown signer");
    let file = &request.files()[0];
    assert_eq!(file.filename.as_deref(), Some("escalate.sh"));
    assert_eq!(file.bytes, script);
    let url = &message.attachments[0].url;
    let served = guard_free_get(url).await;
    assert_eq!(served, script);

    let fixture = fake.add_attachment("pkg.zip", b"PK\x03\x04fixture".to_vec());
    assert_eq!(guard_free_get(&fixture).await, b"PK\x03\x04fixture");
}

async fn guard_free_get(url: &str) -> Vec<u8> {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_api_registers_commands_and_answers_app_and_gateway_info() {
    let fake = FakeDiscord::start().await;
    let http = fake.http();
    let commands = vec![
        CreateCommand::new("status").description("sources, last poll, failures"),
        CreateCommand::new("trust")
            .description("trust store")
            .add_option(serenity::all::CreateCommandOption::new(
                serenity::all::CommandOptionType::SubCommand,
                "list",
                "list anchors",
            )),
    ];
    let global = Command::set_global_commands(&http, commands.clone())
        .await
        .unwrap();
    assert_eq!(global.len(), 2);
    assert_eq!(global[1].options[0].name, "list");
    let guild = GuildId::new(GUILD_ID)
        .set_commands(&http, commands)
        .await
        .unwrap();
    assert_eq!(guild[0].guild_id, Some(GuildId::new(GUILD_ID)));
    assert_eq!(fake.commands(Some(GUILD_ID)).len(), 2);
    assert!(fake.requests().iter().any(|r| r.is(
        "PUT",
        &format!("/api/v10/applications/{APPLICATION_ID}/commands")
    )));

    let app = http.get_current_application_info().await.unwrap();
    assert_eq!(app.id.get(), APPLICATION_ID);
    fake.set_gateway_url("ws://127.0.0.1:4242");
    let gateway = http.get_bot_gateway().await.unwrap();
    assert_eq!(gateway.url, "ws://127.0.0.1:4242");
}

/// What the Discord sink must match on: with the ratelimiter disabled serenity does not
/// retry; a 429 or 5xx is `Error::Http(HttpError::UnsuccessfulRequest(ErrorResponse))`
/// with `status_code` set, and an unreachable API is `HttpError::Request(reqwest::Error)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_surface_as_serenity_errors_and_then_succeed() {
    let fake = FakeDiscord::start().await;
    let http = fake.http();
    let channel = ChannelId::new(CHANNEL_ID);
    let send = || channel.send_message(&http, CreateMessage::new().content("notice"));

    fake.fail_next(
        "POST",
        "/api/v10/channels/",
        1,
        Failure::RateLimited {
            retry_after: 0.2,
            global: false,
        },
    );
    let err = send().await.unwrap_err();
    let serenity::Error::Http(HttpError::UnsuccessfulRequest(resp)) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(resp.status_code.as_u16(), 429);
    // Discord's 429 body has no "code", so serenity cannot decode it as an error JSON:
    // the code is -1 and the message says so; match on the status, not the message.
    assert_eq!(resp.error.code, -1, "{resp:?}");
    assert_eq!(fake.requests().len(), 1, "serenity did not retry");
    assert_eq!(
        fake.requests()[0].path,
        format!("/api/v10/channels/{CHANNEL_ID}/messages")
    );
    send().await.unwrap();
    assert_eq!(fake.created_messages().len(), 1);

    for status in [500u16, 502] {
        fake.fail_next("POST", "/api/v10/channels/", 1, Failure::Status(status));
        let err = send().await.unwrap_err();
        let serenity::Error::Http(HttpError::UnsuccessfulRequest(resp)) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(resp.status_code.as_u16(), status);
        if status == 500 {
            assert_eq!(resp.error.code, 0, "a Discord JSON error decodes");
        } else {
            assert_eq!(resp.error.code, -1, "an HTML body does not");
        }
        send().await.unwrap();
    }

    fake.go_down(Outage::Unavailable).await;
    let err = send().await.unwrap_err();
    assert!(
        matches!(&err, serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) if r.status_code == 503),
        "{err:?}"
    );
    fake.come_up().await;
    send().await.unwrap();

    fake.go_down(Outage::Refused).await;
    let err = send().await.unwrap_err();
    let serenity::Error::Http(HttpError::Request(reqwest_err)) = &err else {
        panic!("{err:?}")
    };
    assert!(reqwest_err.is_connect(), "{reqwest_err:?}");
    fake.come_up().await;
    send().await.unwrap();
    assert_eq!(fake.created_messages().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_a_500_and_the_server_keeps_serving() {
    let ep = Endpoint::start().await;
    let boom = Invoker::default().command("boom", json!([]), Value::Null);
    assert_eq!(ep.post(&boom).await.0, 500);
    let (status, answer) = ep.post(&Invoker::default().trust_list(None)).await;
    assert_eq!((status, answer["type"].as_u64()), (200, Some(4)));
}

/// Hostile bodies under a valid signature: nesting far past serde_json's recursion
/// limit, wrong types in every field the dispatcher reads, missing fields, numbers and
/// strings that do not fit, broken UTF-8. Each is a 400 before the handler runs; a
/// well-formed command with a 60 KiB option is handled; the endpoint keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_json_under_a_valid_signature_is_400_never_a_panic() {
    let ep = Endpoint::start().await;
    let command = Invoker::default().trust_list(Some("dten"));
    let with = |path: &[&str], value: Value| {
        let mut v = command.clone();
        let mut at = &mut v;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        serde_json::to_vec(&v).unwrap()
    };
    let without = |key: &str| {
        let mut v = command.clone();
        v.as_object_mut().unwrap().remove(key);
        serde_json::to_vec(&v).unwrap()
    };
    // Built as text: a 2,000-deep `Value` would overflow the test's own stack.
    let deep_options = String::from_utf8(serde_json::to_vec(&command).unwrap())
        .unwrap()
        .replace(
            "\"dten\"",
            &format!("{}\"dten\"{}", "[".repeat(2_000), "]".repeat(2_000)),
        )
        .into_bytes();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("60,000 nested arrays", "[".repeat(60_000).into_bytes()),
        (
            "10,000 nested objects",
            "{\"a\":".repeat(10_000).into_bytes(),
        ),
        ("an option value nested 2,000 deep", deep_options),
        ("type as a string", with(&["type"], json!("2"))),
        ("type out of range", with(&["type"], json!(1e300))),
        ("id as an object", with(&["id"], json!({"$gt": 0}))),
        (
            "id past u64",
            with(&["id"], json!("99999999999999999999999")),
        ),
        ("negative guild id", with(&["guild_id"], json!(-1))),
        ("data as an array", with(&["data"], json!([]))),
        (
            "options as a string",
            with(&["data", "options"], json!("list")),
        ),
        (
            "member roles as a number",
            with(&["member", "roles"], json!(7)),
        ),
        ("no token", without("token")),
        ("no data", without("data")),
        ("null", b"null".to_vec()),
        ("a bare string", b"\"interaction\"".to_vec()),
        ("a lone surrogate", {
            let mut b = serde_json::to_vec(&command).unwrap();
            let s = String::from_utf8(b.clone())
                .unwrap()
                .replace("\"dten\"", "\"\\ud800\"");
            b = s.into_bytes();
            b
        }),
        ("broken UTF-8", {
            let s = String::from_utf8(serde_json::to_vec(&command).unwrap()).unwrap();
            s.replace("dten", "d\u{0}n")
                .into_bytes()
                .into_iter()
                .map(|c| if c == 0 { 0xff } else { c })
                .collect()
        }),
        (
            "a number of 60,000 digits",
            format!("{{\"type\": 1{}}}", "0".repeat(60_000)).into_bytes(),
        ),
    ];
    cases.push(("truncated", {
        let b = serde_json::to_vec(&command).unwrap();
        b[..b.len() / 2].to_vec()
    }));
    for (case, body) in cases {
        assert!(body.len() <= interactions::MAX_BODY, "{case}: over the cap");
        let headers = ep.signer.headers(&body);
        let started = std::time::Instant::now();
        let (status, _) = ep.post_raw(body, &headers).await;
        assert_eq!(status, 400, "{case}");
        assert!(started.elapsed() < Duration::from_secs(2), "{case}");
    }
    assert_eq!(ep.calls(), 0, "the handler never saw any of them");
    // A well-formed command whose option is 60 KiB long is an ordinary request.
    let long = Invoker::default().trust_list(Some(&"v".repeat(60 << 10)));
    let (status, _) = ep.post(&long).await;
    assert_eq!(status, 200);
    assert_eq!(ep.calls(), 1);
    // And the endpoint still answers.
    let (status, answer) = ep.post(&Invoker::default().ping()).await;
    assert_eq!((status, answer["type"].clone()), (200, json!(1)));
}
