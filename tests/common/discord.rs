//! A fake Discord REST API on loopback for serenity's `Http` (pointed at it with
//! `proxy` + `ratelimiter_disabled`, see [`FakeDiscord::http`]), plus interaction JSON
//! fixtures and a request signer for the HTTP interactions endpoint.
//!
//! The fake records every request (method, path, headers, JSON or multipart body) and
//! answers the routes trustwatch uses the way Discord does: messages (with `nonce` +
//! `enforce_nonce` de-duplication), interaction callbacks, `@original` edits, follow-ups,
//! command registration, application info and `/gateway/bot`. Failures are programmable
//! per route (429 with `Retry-After`, 5xx) and the whole API can go down (connection
//! refused or 503) and come back. `/attachments/{name}` serves registered fixture bytes.
//! Channel messages, interaction callbacks and `@original` edits over Discord's message
//! limits get Discord's 400 (`limits.rs`), and are recorded in [`FakeDiscord::rejected`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

mod body;
mod fixtures;
pub mod limits;

use body::parse_body;
// Not every test binary that shares `common` builds interactions.
#[allow(unused_imports)]
pub use fixtures::{Invoker, Signer};

/// The bot token the fake expects (`Authorization: Bot <TOKEN>`).
pub const TOKEN: &str = "fake-bot-token.for-tests";
/// The application (and bot user) id.
pub const APPLICATION_ID: u64 = 456_789_012_345_678_901;
pub const GUILD_ID: u64 = 345_678_901_234_567_890;
pub const CHANNEL_ID: u64 = 123_456_789_012_345_678;
pub const APPROVER_ROLE_ID: u64 = 234_567_890_123_456_789;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path without the query, e.g. `/api/v10/channels/1/messages`.
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Body,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The JSON body, or the `payload_json` part of a multipart body.
    pub fn json(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(v) => Some(v),
            Body::Multipart { payload_json, .. } => payload_json.as_ref(),
            _ => None,
        }
    }

    pub fn files(&self) -> &[FilePart] {
        match &self.body {
            Body::Multipart { files, .. } => files,
            _ => &[],
        }
    }

    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(Value),
    Multipart {
        payload_json: Option<Value>,
        files: Vec<FilePart>,
    },
    /// Anything else (not JSON, or JSON that does not parse).
    Raw(Vec<u8>),
}

/// A part of a multipart body other than `payload_json`.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The form field name (serenity uses `files[0]`, `files[1]`, ...).
    pub field: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// How a programmed failure answers.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// 429 with `Retry-After` and Discord's rate-limit JSON body.
    RateLimited { retry_after: f64, global: bool },
    /// 500 with a Discord JSON error; 502/503/504 with an HTML body as Cloudflare sends.
    Status(u16),
    /// `status` with Discord's JSON error body, e.g. 401 `{"message": "401: Unauthorized",
    /// "code": 0}` or 403 `{"message": "Missing Access", "code": 50001}`.
    Json {
        status: u16,
        code: i64,
        message: &'static str,
    },
}

/// How the API is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Nothing listens on the port: connections are refused.
    Refused,
    /// Every request gets 503 with an HTML body.
    Unavailable,
}

struct Rule {
    method: String,
    path_prefix: String,
    remaining: usize,
    failure: Failure,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    created: Vec<Value>,
    nonces: HashMap<(u64, String), Value>,
    originals: HashMap<String, Value>,
    followups: Vec<Value>,
    commands: HashMap<Option<u64>, Vec<Value>>,
    rules: Vec<Rule>,
    unavailable: bool,
    gateway_url: String,
    attachments: HashMap<String, Vec<u8>>,
    base: String,
    rejected: Vec<(String, Vec<limits::Violation>)>,
    /// Answer every request only after this long (its effect, e.g. a created
    /// message, happens at once): a slow API, and a window to crash in.
    reply_delay: Duration,
}

type Shared = Arc<Mutex<Inner>>;

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// The fake API. Start it inside a tokio runtime; it runs until dropped.
pub struct FakeDiscord {
    /// `http://127.0.0.1:PORT`, what serenity's `proxy` and `api_base` take.
    pub base: String,
    addr: SocketAddr,
    inner: Shared,
    running: Mutex<Option<Running>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1_300_000_000_000_000_000);

/// A fresh snowflake, unique within the test binary.
pub fn snowflake() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl FakeDiscord {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let inner = Arc::new(Mutex::new(Inner {
            gateway_url: "ws://127.0.0.1:9".into(),
            base: base.clone(),
            ..Inner::default()
        }));
        let running = spawn(listener, inner.clone());
        Self {
            base,
            addr,
            inner,
            running: Mutex::new(Some(running)),
        }
    }

    /// A serenity `Http` talking only to this fake: `proxy` + `ratelimiter_disabled`
    /// (the proxy is ignored otherwise), the application id (webhook routes need it), and
    /// a client that sends `discord.com` to a closed loopback port, so a misconfigured
    /// call fails at once instead of reaching the real API.
    pub fn http(&self) -> serenity::http::Http {
        serenity::http::HttpBuilder::new(TOKEN)
            .proxy(self.base.clone())
            .ratelimiter_disabled(true)
            .application_id(APPLICATION_ID.into())
            .client(guard_client())
            .build()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Requests with this method whose path is `path` exactly.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.is(method, path))
            .collect()
    }

    /// Messages created in channels (a de-duplicated nonce creates nothing).
    pub fn created_messages(&self) -> Vec<Value> {
        self.lock().created.clone()
    }

    /// The current `@original` of each interaction token that was edited.
    pub fn original(&self, token: &str) -> Option<Value> {
        self.lock().originals.get(token).cloned()
    }

    /// Requests refused for breaking Discord's message limits: path and what broke.
    pub fn rejected(&self) -> Vec<(String, Vec<limits::Violation>)> {
        self.lock().rejected.clone()
    }

    pub fn followups(&self) -> Vec<Value> {
        self.lock().followups.clone()
    }

    /// The commands last registered globally (`None`) or for a guild.
    pub fn commands(&self, guild: Option<u64>) -> Vec<Value> {
        self.lock()
            .commands
            .get(&guild)
            .cloned()
            .unwrap_or_default()
    }

    /// The `url` that `GET /gateway/bot` and `GET /gateway` return.
    pub fn set_gateway_url(&self, url: &str) {
        self.lock().gateway_url = url.to_owned();
    }

    /// Serve `bytes` at `/attachments/{name}`; returns the full URL.
    pub fn add_attachment(&self, name: &str, bytes: impl Into<Vec<u8>>) -> String {
        self.lock()
            .attachments
            .insert(name.to_owned(), bytes.into());
        self.url(&format!("/attachments/{name}"))
    }

    /// The next `times` requests with `method` whose path starts with `path_prefix`
    /// (e.g. `"/api/v10/channels/"`) get `failure`. Rules are checked in the order added.
    pub fn fail_next(&self, method: &str, path_prefix: &str, times: usize, failure: Failure) {
        self.lock().rules.push(Rule {
            method: method.to_owned(),
            path_prefix: path_prefix.to_owned(),
            remaining: times,
            failure,
        });
    }

    /// Answer every request `delay` after handling it (zero: at once).
    pub fn set_reply_delay(&self, delay: Duration) {
        self.lock().reply_delay = delay;
    }

    /// Take the API down until [`Self::come_up`].
    pub async fn go_down(&self, how: Outage) {
        match how {
            Outage::Unavailable => self.lock().unavailable = true,
            Outage::Refused => {
                let running = self.running.lock().unwrap().take();
                if let Some(running) = running {
                    let _ = running.stop.send(());
                    let _ = running.task.await;
                }
            }
        }
    }

    /// Bring the API back on the same port.
    pub async fn come_up(&self) {
        self.lock().unavailable = false;
        if self.running.lock().unwrap().is_some() {
            return;
        }
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        *self.running.lock().unwrap() = Some(spawn(listener, self.inner.clone()));
    }

    /// Poll the recorded requests until `pred` holds; panics after `timeout` with the
    /// requests seen, so a test never asserts on a fixed sleep.
    #[track_caller]
    pub fn wait_for<'a, F: Fn(&[Request]) -> bool + 'a>(
        &'a self,
        what: &str,
        timeout: Duration,
        pred: F,
    ) -> impl std::future::Future<Output = Vec<Request>> + 'a {
        let caller = std::panic::Location::caller();
        let what = what.to_owned();
        async move {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let requests = self.requests();
                if pred(&requests) {
                    return requests;
                }
                if tokio::time::Instant::now() >= deadline {
                    let seen: Vec<String> = requests
                        .iter()
                        .map(|r| format!("{} {}", r.method, r.path))
                        .collect();
                    panic!("{caller}: timed out after {timeout:?} waiting for {what}; requests seen: {seen:#?}");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        if let Some(running) = self.running.lock().ok().and_then(|mut r| r.take()) {
            running.task.abort();
        }
    }
}

/// A reqwest client that resolves `discord.com` to a closed loopback port.
pub fn guard_client() -> reqwest::Client {
    reqwest::Client::builder()
        .resolve("discord.com", SocketAddr::from(([127, 0, 0, 1], 9)))
        .no_proxy()
        .build()
        .unwrap()
}

fn spawn(listener: tokio::net::TcpListener, inner: Shared) -> Running {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(inner);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Running { stop, task }
}

async fn handle(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let request = Request {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        body: parse_body(headers.get("content-type").map(String::as_str), &body),
        headers,
    };
    let (mut response, delay) = {
        let mut inner = inner.lock().unwrap();
        (answer(&mut inner, request), inner.reply_delay)
    };
    tokio::time::sleep(delay).await;
    // One request per connection: a pooled keep-alive connection that the fake closes
    // when it goes down would make the next client error a race (IncompleteMessage or
    // connection refused); without pooling, `Outage::Refused` is always refused.
    response
        .headers_mut()
        .insert("connection", axum::http::HeaderValue::from_static("close"));
    response
}

fn answer(inner: &mut Inner, request: Request) -> Response {
    inner.requests.push(request.clone());
    if inner.unavailable {
        return fail(Failure::Status(503));
    }
    if let Some(rule) = inner.rules.iter_mut().find(|r| {
        r.remaining > 0 && r.method == request.method && request.path.starts_with(&r.path_prefix)
    }) {
        rule.remaining -= 1;
        return fail(rule.failure);
    }
    route(inner, &request)
}

fn route(inner: &mut Inner, req: &Request) -> Response {
    if let Some(name) = req.path.strip_prefix("/attachments/") {
        return match inner.attachments.get(name) {
            Some(bytes) => (
                [("content-type", "application/octet-stream")],
                bytes.clone(),
            )
                .into_response(),
            None => not_found(),
        };
    }
    let Some(path) = req.path.strip_prefix("/api/v10/") else {
        return not_found();
    };
    let segs: Vec<&str> = path.split('/').collect();
    let body = req.json().cloned().unwrap_or(Value::Null);
    // Discord checks a message's limits before anything else (nonce included).
    let message = match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["channels", _, "messages"])
        | ("PATCH", ["webhooks", _, _, "messages", "@original"]) => Some(&body),
        ("POST", ["interactions", _, _, "callback"]) => Some(&body["data"]),
        _ => None,
    };
    if let Some(message) = message {
        let broken = limits::violations(message);
        if !broken.is_empty() {
            let refusal = limits::error_body(&broken);
            inner.rejected.push((req.path.clone(), broken));
            return (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/json")],
                serde_json::to_vec(&refusal).unwrap(),
            )
                .into_response();
        }
    }
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["channels", channel, "messages"]) => {
            let Ok(channel) = channel.parse::<u64>() else {
                return not_found();
            };
            let enforce = body["enforce_nonce"].as_bool().unwrap_or(false);
            let nonce = match &body["nonce"] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            if let (true, Some(nonce)) = (enforce, &nonce) {
                if let Some(existing) = inner.nonces.get(&(channel, nonce.clone())) {
                    return ok(existing.clone());
                }
            }
            let message = inner.message(channel, &body, req.files());
            if let (true, Some(nonce)) = (enforce, nonce) {
                inner.nonces.insert((channel, nonce), message.clone());
            }
            inner.created.push(message.clone());
            ok(message)
        }
        ("POST", ["interactions", _id, _token, "callback"]) => {
            StatusCode::NO_CONTENT.into_response()
        }
        ("PATCH", ["webhooks", _app, token, "messages", "@original"]) => {
            let mut message = inner
                .originals
                .get(*token)
                .cloned()
                .unwrap_or_else(|| inner.message(CHANNEL_ID, &json!({}), &[]));
            merge_edit(&mut message, &body, inner.attachments_for(req.files()));
            inner.originals.insert((*token).to_owned(), message.clone());
            ok(message)
        }
        ("GET", ["webhooks", _app, token, "messages", "@original"]) => {
            match inner.originals.get(*token) {
                Some(m) => ok(m.clone()),
                None => not_found(),
            }
        }
        ("DELETE", ["webhooks", _app, token, "messages", "@original"]) => {
            inner.originals.remove(*token);
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", ["webhooks", _app, _token]) => {
            let message = inner.message(CHANNEL_ID, &body, req.files());
            inner.followups.push(message.clone());
            ok(message)
        }
        ("PUT", ["applications", app, "commands"]) => inner.register(app, None, &body),
        ("PUT", ["applications", app, "guilds", guild, "commands"]) => {
            inner.register(app, guild.parse().ok(), &body)
        }
        ("GET", ["applications", _app, "commands"]) => ok(json!(inner.commands.get(&None))),
        ("GET", ["oauth2", "applications", "@me"] | ["applications", "@me"]) => {
            ok(application_json())
        }
        ("GET", ["users", "@me"]) => ok(bot_user()),
        ("GET", ["gateway", "bot"]) => ok(json!({
            "url": inner.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1},
        })),
        ("GET", ["gateway"]) => ok(json!({"url": inner.gateway_url})),
        _ => not_found(),
    }
}

impl Inner {
    /// A Message JSON as Discord returns it, echoing what was sent.
    fn message(&mut self, channel: u64, body: &Value, files: &[FilePart]) -> Value {
        let mut message = json!({
            "id": snowflake().to_string(),
            "channel_id": channel.to_string(),
            "author": bot_user(),
            "content": body["content"].as_str().unwrap_or(""),
            "timestamp": now_rfc3339(),
            "edited_timestamp": null,
            "tts": body["tts"].as_bool().unwrap_or(false),
            "mention_everyone": false,
            "mentions": [],
            "mention_roles": [],
            "attachments": self.attachments_for(files),
            "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
            "components": body.get("components").cloned().unwrap_or(json!([])),
            "pinned": false,
            "type": 0,
            "flags": body["flags"].as_u64().unwrap_or(0),
        });
        if let Some(nonce) = body.get("nonce") {
            message["nonce"] = nonce.clone();
        }
        message
    }

    /// Attachment objects for uploaded files; each is served at `/attachments/`.
    fn attachments_for(&mut self, files: &[FilePart]) -> Value {
        let list: Vec<Value> = files
            .iter()
            .map(|f| {
                let id = snowflake();
                let filename = f.filename.clone().unwrap_or_else(|| "file".into());
                let name = format!("{id}-{filename}");
                let url = format!("{}/attachments/{name}", self.base);
                self.attachments.insert(name, f.bytes.clone());
                json!({"id": id.to_string(), "filename": filename, "size": f.bytes.len(),
                       "url": url, "proxy_url": url, "content_type": f.content_type})
            })
            .collect();
        Value::Array(list)
    }

    fn register(&mut self, app: &str, guild: Option<u64>, body: &Value) -> Response {
        let Some(list) = body.as_array() else {
            return error(400, 50035, "Invalid Form Body");
        };
        let echoed: Vec<Value> = list
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c["id"] = json!(snowflake().to_string());
                c["application_id"] = json!(app);
                c["version"] = json!(snowflake().to_string());
                if c.get("type").is_none() {
                    c["type"] = json!(1);
                }
                if c.get("description").is_none() {
                    c["description"] = json!("");
                }
                if let Some(g) = guild {
                    c["guild_id"] = json!(g.to_string());
                }
                c
            })
            .collect();
        self.commands.insert(guild, echoed.clone());
        ok(Value::Array(echoed))
    }
}

/// Apply an edit body (content, embeds, components, attachments) to a message.
fn merge_edit(message: &mut Value, edit: &Value, uploaded: Value) {
    for key in ["content", "embeds", "components", "flags"] {
        if let Some(v) = edit.get(key) {
            message[key] = v.clone();
        }
    }
    if uploaded.as_array().is_some_and(|a| !a.is_empty()) {
        message["attachments"] = uploaded;
    }
    message["edited_timestamp"] = json!(now_rfc3339());
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

pub fn bot_user() -> Value {
    json!({"id": APPLICATION_ID.to_string(), "username": "trustwatch", "discriminator": "0",
           "global_name": null, "avatar": null, "bot": true})
}

fn application_json() -> Value {
    json!({
        "id": APPLICATION_ID.to_string(), "name": "trustwatch", "icon": null,
        "description": "", "bot_public": false, "bot_require_code_grant": false,
        "verify_key": Signer::new().public_key_hex(), "team": null,
        "owner": {"id": "1", "username": "owner", "discriminator": "0", "avatar": null},
        "flags": 0,
    })
}

fn ok(value: Value) -> Response {
    (
        [("content-type", "application/json")],
        serde_json::to_vec(&value).unwrap(),
    )
        .into_response()
}

fn error(status: u16, code: i64, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let body = json!({"message": message, "code": code});
    (
        status,
        [("content-type", "application/json")],
        serde_json::to_vec(&body).unwrap(),
    )
        .into_response()
}

fn not_found() -> Response {
    error(404, 0, "404: Not Found")
}

fn fail(failure: Failure) -> Response {
    match failure {
        Failure::RateLimited {
            retry_after,
            global,
        } => {
            let body = json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global});
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                [("content-type", "application/json")],
                serde_json::to_vec(&body).unwrap(),
            )
                .into_response();
            let h = response.headers_mut();
            h.insert(
                "retry-after",
                retry_after.ceil().to_string().parse().unwrap(),
            );
            h.insert("x-ratelimit-global", global.to_string().parse().unwrap());
            h.insert(
                "x-ratelimit-scope",
                if global { "global" } else { "user" }.parse().unwrap(),
            );
            response
        }
        Failure::Status(500) => error(500, 0, "500: Internal Server Error"),
        Failure::Json {
            status,
            code,
            message,
        } => error(status, code, message),
        Failure::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            let html = format!("<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center><hr><center>cloudflare</center></body></html>");
            (status, [("content-type", "text/html")], html).into_response()
        }
    }
}
