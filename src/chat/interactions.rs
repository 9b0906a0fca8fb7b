//! The HTTP interactions endpoint (CONTRACT §6): an axum server that takes Discord's
//! signed POSTs at `/interactions`, answers PING itself, hands every other interaction to
//! the shared [`Handler`] and carries out the [`First`] answer it returns.
//!
//! It owns the inbound checks, in this order, and does no other work for a request that
//! fails one: the body size limit (413), the signature headers and their timestamp window
//! (401), the Ed25519 signature over `timestamp || body` (401), and the interaction JSON
//! (400). It also owns the deferred jobs it starts: they are awaited (for a bounded time)
//! when the server shuts down, so an in-flight `/verify` still edits its answer.
//!
//! Bodies are never logged (they carry interaction tokens); log lines name the
//! interaction id, its type and the command name or custom id.

mod signature;

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serenity::all::{CreateInteractionResponse, Interaction};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use super::handler::{First, Handler};
pub use signature::PublicKey;
use signature::SignedHeaders;
pub use signature::MAX_CLOCK_SKEW;

/// Largest request body accepted. Discord's interaction payloads are a few KiB (resolved
/// members, roles and attachments included); 64 KiB leaves room and caps what an
/// unauthenticated client can make us buffer before the signature is checked.
pub const MAX_BODY: usize = 64 * 1024;

/// How long deferred jobs may still run once shutdown is asked for. An interaction token
/// lives 15 minutes, but `run` must exit promptly; a minute covers a `/verify` download
/// and check, anything slower is aborted (and logged).
pub const JOB_GRACE: Duration = Duration::from_secs(60);

/// The path Discord POSTs to (the "Interactions Endpoint URL" ends in it).
pub const PATH: &str = "/interactions";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InteractionsError {
    #[error("chat.discord.interactions_public_key {reason}: copy \"Public Key\" from the application's General Information page in the Discord developer portal")]
    PublicKey { reason: &'static str },
    #[error("the interactions endpoint on {addr} stopped: {source}")]
    Serve {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// What every request handler shares.
struct Endpoint {
    key: PublicKey,
    handler: Arc<dyn Handler>,
    jobs: Mutex<JoinSet<()>>,
}

/// Serve the interactions endpoint on `listener` until `shutdown` turns true (or its
/// sender is dropped, so a lost owner cannot leave the server running unstoppable).
///
/// `public_key` is the application's public key as 64 hex characters (config validates
/// the shape; a key that is not an Ed25519 point is an error here). On shutdown the
/// server stops accepting, finishes the requests it has, then waits up to [`JOB_GRACE`]
/// for deferred jobs.
pub async fn serve(
    listener: tokio::net::TcpListener,
    public_key: &str,
    handler: Arc<dyn Handler>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), InteractionsError> {
    let key = PublicKey::from_hex(public_key)?;
    let addr = listener
        .local_addr()
        .map_or_else(|_| "(unknown address)".to_owned(), |a| a.to_string());
    let endpoint = Arc::new(Endpoint {
        key,
        handler,
        jobs: Mutex::new(JoinSet::new()),
    });
    let app = Router::new()
        .route(PATH, post(interactions))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(endpoint.clone());
    info!(%addr, path = PATH, "interactions endpoint listening");
    let signal = async move {
        // Err means the sender is gone: treat it as a request to stop.
        let _ = shutdown.wait_for(|stop| *stop).await;
        info!("interactions endpoint shutting down");
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await;
    finish_jobs(&endpoint).await;
    served.map_err(|source| InteractionsError::Serve { addr, source })
}

/// Await the deferred jobs still running, up to [`JOB_GRACE`], then abort the rest.
async fn finish_jobs(endpoint: &Endpoint) {
    let mut jobs = std::mem::take(&mut *lock(&endpoint.jobs));
    if jobs.is_empty() {
        return;
    }
    let running = jobs.len();
    info!(running, "waiting for deferred interaction jobs");
    let drained = tokio::time::timeout(JOB_GRACE, async {
        while let Some(done) = jobs.join_next().await {
            log_job(done);
        }
    })
    .await;
    if drained.is_err() {
        warn!(
            aborted = jobs.len(),
            grace_secs = JOB_GRACE.as_secs(),
            "deferred interaction jobs did not finish in time; aborted"
        );
        jobs.abort_all();
    }
}

fn lock(jobs: &Mutex<JoinSet<()>>) -> std::sync::MutexGuard<'_, JoinSet<()>> {
    // A poisoned lock only means a panic elsewhere while it was held; the set is intact.
    jobs.lock().unwrap_or_else(PoisonError::into_inner)
}

fn log_job(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            error!(task = %e.id(), "a deferred interaction job panicked");
        }
    }
}

/// One POST to `/interactions`.
async fn interactions(State(endpoint): State<Arc<Endpoint>>, request: Request) -> Response {
    if declared_length(request.headers()).is_some_and(|len| len > MAX_BODY) {
        debug!(limit = MAX_BODY, "interaction refused: body too large");
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    // Headers first: an unsigned or stale request is refused before its body is read.
    let signed = match SignedHeaders::from_headers(request.headers(), signature::now_unix()) {
        Ok(signed) => signed,
        Err(reason) => {
            debug!(%reason, "interaction refused");
            return StatusCode::UNAUTHORIZED.into_response();
        }
    };
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => {
            debug!(
                status = rejection.status().as_u16(),
                "interaction body not read"
            );
            return rejection.status().into_response();
        }
    };
    if let Err(reason) = endpoint.key.verify(&signed, &body) {
        // Discord itself sends badly signed requests to check that we refuse them; a
        // steady stream of these with real traffic means the configured key is wrong.
        warn!(%reason, "interaction refused: signature does not verify");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let interaction: Interaction = match serde_json::from_slice(&body) {
        Ok(interaction) => interaction,
        Err(e) => {
            // The error text may quote a value from the body, so log only where it failed.
            debug!(category = ?e.classify(), line = e.line(), column = e.column(),
                "interaction refused: not an interaction this bot understands");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let (id, kind, name) = describe(&interaction);
    if matches!(interaction, Interaction::Ping(_)) {
        debug!(interaction_id = id, kind, "ping answered");
        return json_response(br#"{"type":1}"#.to_vec());
    }
    debug!(interaction_id = id, kind, name, "interaction received");
    // `Handler::first` is synchronous and must be quick (it decides how to answer and
    // moves slow work into the job), so it runs here rather than on a blocking thread.
    // A panic in it is a bug in one command; it must not take the connection down with
    // it, so it becomes a 500 (Discord then shows "interaction failed").
    let handler = &endpoint.handler;
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| handler.first(interaction)));
    let Ok(first) = caught else {
        error!(
            interaction_id = id,
            kind, name, "interaction handler panicked"
        );
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match first {
        First::Now(response) => answer(&response, id, kind, &name),
        First::Later { ack, job } => {
            let response = answer(&ack, id, kind, &name);
            if response.status().is_success() {
                let mut jobs = lock(&endpoint.jobs);
                while let Some(done) = jobs.try_join_next() {
                    log_job(done);
                }
                jobs.spawn(job);
            }
            response
        }
    }
}

/// The `Content-Length` a client declared, if any and if it parses.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The interaction's id, type and command name (or component/modal custom id), for logs.
fn describe(interaction: &Interaction) -> (u64, &'static str, String) {
    match interaction {
        Interaction::Ping(p) => (p.id.get(), "ping", String::new()),
        Interaction::Command(c) => (c.id.get(), "command", c.data.name.clone()),
        Interaction::Autocomplete(c) => (c.id.get(), "autocomplete", c.data.name.clone()),
        Interaction::Component(c) => (c.id.get(), "component", c.data.custom_id.clone()),
        Interaction::Modal(m) => (m.id.get(), "modal", m.data.custom_id.clone()),
        _ => (0, "unknown", String::new()),
    }
}

/// The HTTP answer carrying `response` as Discord's interaction response JSON.
fn answer(response: &CreateInteractionResponse, id: u64, kind: &str, name: &str) -> Response {
    match render_response(response) {
        Ok(body) => json_response(body),
        Err(e) => {
            error!(interaction_id = id, kind, name, error = %e,
                "interaction response could not be serialized");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// serenity serializes a response as `{"type": N, "data": ...}` with `"data": null` for
/// the types without data (PONG, DEFERRED_UPDATE_MESSAGE); `data` is optional in
/// Discord's schema, so a null one is left out rather than sent.
pub fn render_response(response: &CreateInteractionResponse) -> Result<Vec<u8>, serde_json::Error> {
    let mut value = serde_json::to_value(response)?;
    if let Some(map) = value.as_object_mut() {
        if map.get("data").is_some_and(serde_json::Value::is_null) {
            map.remove("data");
        }
    }
    serde_json::to_vec(&value)
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
