//! The control socket (CONTRACT §6, last paragraph): sled admits one process per store,
//! so while `trustwatch run` holds it, every other command reaches the running instance
//! through the Unix socket `<data_dir>/control.sock` instead of opening the store.
//!
//! This module owns the wire protocol, the socket file's life and the server's limits;
//! it knows nothing about commands. The server ([`server`]) hands each request to a
//! [`Handler`] on a thread of its own; `cli::control` supplies the handler that runs the
//! same CLI code against the running instance's store, and the client side that
//! forwards a command when the store is locked.
//!
//! Protocol: one request and one response per connection, each a JSON object on one line
//! (JSON escapes newlines inside strings, so a frame is the bytes up to the first `\n`;
//! a person can talk to the socket with `socat`). Both carry `version`: a server refuses
//! a request newer than it understands and says so, and a client can tell an older
//! server from its answer. Invariants: a request is at most [`MAX_REQUEST`] bytes and
//! arrives within [`READ_TIMEOUT`], only a peer with the server's own uid is served, at
//! most [`MAX_CONCURRENT`] commands run at once, and every malformed request gets an
//! error response, never a crash or a stall.

pub mod server;

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use server::{Handler, Listener, Server};

/// The protocol this build speaks; raise it when a request or response changes meaning.
pub const PROTOCOL_VERSION: u32 = 1;
/// The socket's file name inside the data directory.
pub const SOCKET_NAME: &str = "control.sock";
/// Largest request a server reads: argv, a directory and a name fit in far less; the
/// bound keeps a confused or hostile peer from making the server buffer without end.
pub const MAX_REQUEST: usize = 1 << 20;
/// Largest response a client reads: a command's whole output (an audit log or a finding
/// list of a store that has run for years stays well below this).
pub const MAX_RESPONSE: usize = 256 << 20;
/// How long a server waits for a whole request after accepting a connection; a peer
/// that connects and says nothing cannot hold a slot longer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing a message may take before the other side is given up on.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Commands the server runs at once (each on its own thread); more wait in the accept
/// backlog. Two cores, and verification is CPU-bound: four keeps the poller responsive.
pub const MAX_CONCURRENT: usize = 4;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot create the control socket {path}: {reason}")]
    Bind { path: String, reason: String },
    #[error(
        "another `trustwatch run` is already up on this store (its control socket {path} \
         answers): stop `trustwatch run` first"
    )]
    AlreadyRunning { path: String },
    #[error("control socket I/O failed during {op}: {reason}")]
    Io { op: &'static str, reason: String },
    #[error("the message is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the message ended before its terminating newline")]
    Truncated,
    #[error("malformed message: {0}")]
    Malformed(String),
}

fn io(op: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Io {
        op,
        reason: e.to_string(),
    }
}

/// A command forwarded to the running instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    /// The command line after the program name, exactly as the client got it.
    pub argv: Vec<String>,
    /// The client's working directory: relative paths in `argv` are relative to it.
    pub cwd: PathBuf,
    /// Who is behind the command at the client (`cli:$USER`), for the audit log.
    pub actor: String,
}

/// What the command printed and how it exited, for the client to reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub version: u32,
    /// The exit code, as the command would have exited locally.
    pub code: u8,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
}

impl Response {
    /// A failure as the CLI prints one: `error: ...` on stderr, and its exit code.
    pub fn error(code: u8, message: impl std::fmt::Display) -> Self {
        Self {
            version: PROTOCOL_VERSION,
            code,
            stdout: String::new(),
            stderr: format!("error: {message}\n"),
        }
    }
}

/// The socket of the instance that serves the store in `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// One frame: the message as one line of JSON.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, Error> {
    let mut out = serde_json::to_vec(message).map_err(|e| Error::Malformed(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// Parse a frame (without its newline).
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(frame).map_err(|e| Error::Malformed(e.to_string()))
}

/// Read one frame of at most `limit` bytes. `Ok(None)`: the peer closed before sending
/// a byte (a liveness probe, or a server that went away before answering).
pub fn read_frame(reader: impl BufRead, limit: usize) -> Result<Option<Vec<u8>>, Error> {
    let mut buf = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_until(b'\n', &mut buf)
        .map_err(io("read"))?;
    finish_frame(buf, limit)
}

/// What a bounded `read_until` left in `buf`, as a frame.
fn finish_frame(mut buf: Vec<u8>, limit: usize) -> Result<Option<Vec<u8>>, Error> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > limit {
            Error::TooLarge { limit }
        } else {
            Error::Truncated
        });
    }
    buf.pop();
    Ok(Some(buf))
}

/// Connect to the running instance serving `data_dir`, if one answers.
pub fn connect(data_dir: &Path) -> Option<UnixStream> {
    let path = socket_path(data_dir);
    // No socket file: no instance (and no connect attempt on every local command).
    if !path.exists() {
        return None;
    }
    match UnixStream::connect(&path) {
        Ok(stream) => Some(stream),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            tracing::warn!(
                socket = %path.display(),
                "the control socket belongs to another user: run the command as the user \
                 that runs `trustwatch run`"
            );
            None
        }
        Err(e) => {
            tracing::debug!(socket = %path.display(), error = %e, "control socket does not answer");
            None
        }
    }
}

/// Send `request` and wait for the response. `Ok(None)`: the server closed the
/// connection without answering (it is shutting down), so the caller may open the store
/// itself. There is no deadline on the answer: a forwarded `verify` of a large package
/// takes as long as it takes locally.
pub fn exchange(mut stream: UnixStream, request: &Request) -> Result<Option<Response>, Error> {
    stream
        .set_write_timeout(Some(WRITE_TIMEOUT))
        .map_err(io("set a write timeout"))?;
    let frame = encode(request)?;
    match stream.write_all(&frame).and_then(|()| stream.flush()) {
        Ok(()) => {}
        // The server closed before reading: treat it as no answer.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(None),
        Err(e) => return Err(io("send the request")(e)),
    }
    let mut buf = Vec::new();
    let cap = u64::try_from(MAX_RESPONSE)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    match BufReader::new(stream).take(cap).read_until(b'\n', &mut buf) {
        Ok(_) => {}
        // Closed with our request unread (shutting down): no answer either.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
        Err(e) => return Err(io("read the response")(e)),
    }
    match finish_frame(buf, MAX_RESPONSE)? {
        Some(frame) => decode(&frame).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests;
