//! A fake Discord for the gateway tests, on loopback: a WebSocket server speaking just
//! enough of gateway v10 for serenity 0.12.5's shard (Hello, Identify, heartbeat ACKs,
//! READY, dispatches on request, close 4004 for a wrong token), and a small REST stub for
//! the calls around it (gateway address, command registration, interaction callbacks,
//! channel messages). Everything received is recorded for the test to assert on.
//!
//! Self-contained on purpose: the fuller fake REST API lives in `common/discord.rs`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::State as AxumState;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

pub const APPLICATION_ID: u64 = 456_789_012_345_678_901;
pub const GUILD_ID: u64 = 345_678_901_234_567_890;
pub const CHANNEL_ID: u64 = 123_456_789_012_345_678;
pub const BOT_USER_ID: u64 = 567_890_123_456_789_012;
pub const USER_ID: u64 = 678_901_234_567_890_123;
pub const ROLE_ID: u64 = 234_567_890_123_456_789;

/// One REST request as the stub received it.
#[derive(Debug, Clone)]
pub struct RestRequest {
    pub method: String,
    /// Path and query, e.g. `/api/v10/gateway/bot`.
    pub path: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl RestRequest {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: body is not JSON ({e}): {:?}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// What the gateway saw of one WebSocket connection.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// The request URI of the WebSocket upgrade (serenity adds `?v=10`).
    pub uri: String,
    /// The `d` of each Identify (op 2).
    pub identifies: Vec<Value>,
    /// Heartbeats (op 1) received.
    pub heartbeats: usize,
    /// The close code the client sent, if it closed.
    pub client_close: Option<u16>,
}

struct State {
    /// The Authorization value the fake accepts, `Bot <token>`.
    authorization: String,
    heartbeat_interval: Duration,
    /// What `GET /gateway[/bot]` answers; the fake's own gateway unless a test changed it.
    ws_url: Mutex<String>,
    rest: Mutex<Vec<RestRequest>>,
    connections: Mutex<Vec<Connection>>,
    dispatch: broadcast::Sender<(String, Value)>,
    /// Close codes to send to every open connection (see [`FakeDiscord::close_all`]).
    closes: broadcast::Sender<u16>,
    next_id: AtomicUsize,
    /// Close every Identify with 4004 (Authentication failed), whatever the token.
    refuse_identify: AtomicBool,
}

/// The fake: `api_base` for `chat.discord.api_base`, the gateway at `ws_url`.
pub struct FakeDiscord {
    pub api_base: String,
    pub ws_url: String,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeDiscord {
    /// Start both servers. `token` is the bot token the fake accepts (without `Bot `).
    pub async fn start(token: &str, heartbeat_interval: Duration) -> Self {
        let rest = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rest_addr: SocketAddr = rest.local_addr().unwrap();
        let ws_url = format!("ws://{}", gateway.local_addr().unwrap());
        let state = Arc::new(State {
            authorization: format!("Bot {token}"),
            heartbeat_interval,
            ws_url: Mutex::new(ws_url.clone()),
            rest: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
            dispatch: broadcast::channel(64).0,
            closes: broadcast::channel(8).0,
            next_id: AtomicUsize::new(1),
            refuse_identify: AtomicBool::new(false),
        });
        let app = Router::new()
            .fallback(rest_handler)
            .with_state(Arc::clone(&state));
        let rest_task = tokio::spawn(async move {
            axum::serve(rest, app).await.unwrap();
        });
        let gateway_state = Arc::clone(&state);
        let gateway_task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = gateway.accept().await else {
                    return;
                };
                tokio::spawn(serve_connection(stream, Arc::clone(&gateway_state)));
            }
        });
        Self {
            api_base: format!("http://{rest_addr}"),
            ws_url,
            state,
            tasks: vec![rest_task, gateway_task],
        }
    }

    pub fn rest_requests(&self) -> Vec<RestRequest> {
        self.state.rest.lock().unwrap().clone()
    }

    /// REST requests whose method is `method` and whose path starts with `prefix`.
    pub fn rest_matching(&self, method: &str, prefix: &str) -> Vec<RestRequest> {
        self.rest_requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .collect()
    }

    /// Make `GET /gateway[/bot]` answer `url` instead of the fake's gateway.
    pub fn point_gateway_at(&self, url: &str) {
        *self.state.ws_url.lock().unwrap() = url.to_owned();
    }

    /// From now on, answer every Identify with close code 4004, as Discord does for a token
    /// it no longer accepts (the REST stub still accepts it).
    pub fn refuse_identify(&self) {
        self.state.refuse_identify.store(true, Ordering::SeqCst);
    }

    /// Close every open connection with `code`, as Discord does when it drops a session
    /// (4000 unknown error, 4009 session timed out: the client may reconnect).
    pub fn close_all(&self, code: u16) {
        let _ = self.state.closes.send(code);
    }

    pub fn connections(&self) -> Vec<Connection> {
        self.state.connections.lock().unwrap().clone()
    }

    /// Send a dispatch (op 0) with event name `t` to every open connection.
    pub fn dispatch(&self, t: &str, d: Value) {
        self.state
            .dispatch
            .send((t.to_owned(), d))
            .expect("no gateway connection is open to dispatch to");
    }
}

/// Poll `probe` every 20 ms until it returns `Some`, or panic after `deadline` saying
/// `what` was being waited for.
pub async fn wait_for<T>(
    what: &str,
    deadline: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// The upgrade callback's `Result<Response, ErrorResponse>` is tungstenite's signature.
#[allow(clippy::result_large_err)]
async fn serve_connection(stream: TcpStream, state: Arc<State>) {
    let index = {
        let mut connections = state.connections.lock().unwrap();
        connections.push(Connection::default());
        connections.len() - 1
    };
    let record = |f: &dyn Fn(&mut Connection)| {
        f(&mut state.connections.lock().unwrap()[index]);
    };
    let upgrade_state = Arc::clone(&state);
    let accepted = tokio_tungstenite::accept_hdr_async(
        stream,
        move |request: &tokio_tungstenite::tungstenite::handshake::server::Request, response| {
            upgrade_state.connections.lock().unwrap()[index].uri = request.uri().to_string();
            Ok(response)
        },
    )
    .await;
    let Ok(mut ws) = accepted else { return };
    let mut events = state.dispatch.subscribe();
    let mut closes = state.closes.subscribe();
    let hello = json!({
        "op": 10, "s": null, "t": null,
        "d": {"heartbeat_interval": state.heartbeat_interval.as_millis() as u64},
    });
    if ws.send(Message::Text(hello.to_string())).await.is_err() {
        return;
    }
    let mut seq: u64 = 0;
    let mut identified = false;
    loop {
        tokio::select! {
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.map(|f| u16::from(f.code));
                        record(&|c| c.client_close = code);
                        return;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return,
                };
                let payload: Value = serde_json::from_str(&text).unwrap();
                match payload["op"].as_u64() {
                    Some(1) => {
                        record(&|c| c.heartbeats += 1);
                        let ack = json!({"op": 11, "s": null, "t": null, "d": null});
                        if ws.send(Message::Text(ack.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Some(2) => {
                        let d = payload["d"].clone();
                        let token_ok = d["token"].as_str() == Some(state.authorization.as_str())
                            && !state.refuse_identify.load(Ordering::SeqCst);
                        record(&|c| c.identifies.push(d.clone()));
                        if !token_ok {
                            let close = CloseFrame {
                                code: CloseCode::from(4004),
                                reason: "Authentication failed.".into(),
                            };
                            let _ = ws.send(Message::Close(Some(close))).await;
                            return;
                        }
                        identified = true;
                        seq += 1;
                        let resume_url = state.ws_url.lock().unwrap().clone();
                        let ready = json!({"op": 0, "s": seq, "t": "READY", "d": ready(&resume_url)});
                        if ws.send(Message::Text(ready.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Some(6) => {
                        // Resume: not supported; ask for a fresh Identify.
                        let invalid = json!({"op": 9, "s": null, "t": null, "d": false});
                        if ws.send(Message::Text(invalid.to_string())).await.is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
            code = closes.recv() => {
                let Ok(code) = code else { continue };
                let close = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "closed by the test".into(),
                };
                let _ = ws.send(Message::Close(Some(close))).await;
                return;
            }
            event = events.recv() => {
                let Ok((t, d)) = event else { continue };
                if !identified {
                    continue;
                }
                seq += 1;
                let dispatch = json!({"op": 0, "s": seq, "t": t, "d": d});
                if ws.send(Message::Text(dispatch.to_string())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// READY's `d` with the fields serenity 0.12.5's `Ready` requires (`src/model/gateway.rs`):
/// `v`, `user` (id, username), `guilds`, `session_id`, `resume_gateway_url`,
/// `application` {id, flags}; `shard` is optional but Discord sends it.
fn ready(ws_url: &str) -> Value {
    json!({
        "v": 10,
        "user": {
            "id": BOT_USER_ID.to_string(),
            "username": "trustwatch-test",
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": true,
            "verified": true,
            "flags": 0,
        },
        "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
        "session_id": "fake-session-1",
        "resume_gateway_url": ws_url,
        "shard": [0, 1],
        "application": {"id": APPLICATION_ID.to_string(), "flags": 0},
    })
}

/// A slash-command interaction (type 2) as Discord sends it in a guild, with every field
/// serenity 0.12.5's `CommandInteraction` requires (LIBRARIES.md §1):
/// `attachment_size_limit`, `entitlements`, `locale`, `version`, `token`, `channel_id`,
/// and a `member` with `roles`, `deaf`, `mute`, `flags`.
pub fn command_interaction(id: u64, name: &str, options: Value) -> Value {
    json!({
        "id": id.to_string(),
        "application_id": APPLICATION_ID.to_string(),
        "type": 2,
        "data": {"id": "999000111222333444", "name": name, "type": 1, "options": options},
        "guild_id": GUILD_ID.to_string(),
        "channel_id": CHANNEL_ID.to_string(),
        "member": {
            "user": {
                "id": USER_ID.to_string(),
                "username": "alice",
                "discriminator": "0",
                "global_name": "Alice",
                "avatar": null,
            },
            "roles": [ROLE_ID.to_string()],
            "joined_at": "2024-01-02T03:04:05.000000+00:00",
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "permissions": "2147483648",
        },
        "token": format!("interaction-token-{id}"),
        "version": 1,
        "app_permissions": "2147483648",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "context": 0,
        "attachment_size_limit": 26_214_400,
    })
}

async fn rest_handler(AxumState(state): AxumState<Arc<State>>, request: Request<Body>) -> Response {
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_owned(), ToString::to_string);
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = to_bytes(request.into_body(), 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    state.rest.lock().unwrap().push(RestRequest {
        method: method.clone(),
        path: path.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
    });
    if authorization.as_deref() != Some(state.authorization.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            json_body(&json!({"message": "401: Unauthorized", "code": 0})),
        )
            .into_response();
    }
    let segments: Vec<&str> = path
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_start_matches("/api/v10/")
        .split('/')
        .collect();
    let ws_url = state.ws_url.lock().unwrap().clone();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["gateway"]) => json_ok(&json!({"url": ws_url})),
        ("GET", ["gateway", "bot"]) => json_ok(&json!({
            "url": ws_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1,
            },
        })),
        ("PUT", ["applications", app, "commands"])
        | ("PUT", ["applications", app, "guilds", _, "commands"]) => {
            let Ok(Value::Array(commands)) = serde_json::from_slice::<Value>(&body) else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let guild = segments.get(3).copied();
            let echoed: Vec<Value> = commands
                .into_iter()
                .map(|mut command| {
                    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
                    command["id"] = json!(format!("{}", 800_000_000_000_000_000 + id));
                    command["application_id"] = json!(app);
                    command["version"] = json!("1");
                    if command.get("type").is_none() {
                        command["type"] = json!(1);
                    }
                    if let Some(guild) = guild {
                        command["guild_id"] = json!(guild);
                    }
                    command
                })
                .collect();
            json_ok(&Value::Array(echoed))
        }
        // The fields serenity 0.12.5's `CurrentApplicationInfo` requires.
        ("GET", ["oauth2", "applications", "@me"]) => json_ok(&json!({
            "id": APPLICATION_ID.to_string(),
            "name": "trustwatch-test",
            "icon": null,
            "description": "",
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": "00".repeat(32),
        })),
        ("POST", ["interactions", _, _, "callback"]) => StatusCode::NO_CONTENT.into_response(),
        ("POST", ["channels", channel, "messages"]) => {
            let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let id = state.next_id.fetch_add(1, Ordering::Relaxed);
            json_ok(&json!({
                "id": format!("{}", 700_000_000_000_000_000 + id),
                "channel_id": channel,
                "author": {
                    "id": BOT_USER_ID.to_string(), "username": "trustwatch-test",
                    "discriminator": "0", "avatar": null, "bot": true,
                },
                "content": sent["content"].as_str().unwrap_or_default(),
                "timestamp": "2024-01-02T03:04:05.000000+00:00",
                "edited_timestamp": null,
                "tts": false,
                "mention_everyone": false,
                "mentions": [],
                "mention_roles": [],
                "attachments": [],
                "embeds": sent.get("embeds").cloned().unwrap_or(json!([])),
                "pinned": false,
                "type": 0,
            }))
        }
        _ => (
            StatusCode::NOT_FOUND,
            json_body(&json!({"message": "404: Not Found", "code": 0})),
        )
            .into_response(),
    }
}

fn json_body(value: &Value) -> ([(&'static str, &'static str); 1], String) {
    ([("content-type", "application/json")], value.to_string())
}

fn json_ok(value: &Value) -> Response {
    (StatusCode::OK, json_body(value)).into_response()
}
