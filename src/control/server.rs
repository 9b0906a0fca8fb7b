//! The running instance's side of the control socket: the socket file (stale files,
//! refusal when another instance answers, mode 0600, removal on shutdown), the accept
//! loop under the shutdown signal, and per-connection limits (peer uid, request size,
//! read timeout, concurrency). Commands run on plain threads, not tokio's: they are
//! blocking CLI code, and some (`poll --once`) build a runtime of their own, which a
//! thread inside tokio's blocking pool must not do.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::{
    decode, encode, finish_frame, socket_path, Error, Request, Response, MAX_CONCURRENT,
    MAX_REQUEST, PROTOCOL_VERSION, READ_TIMEOUT, WRITE_TIMEOUT,
};

/// Runs one request to completion; called on a thread of its own.
pub type Handler = Arc<dyn Fn(Request) -> Response + Send + Sync>;

/// Exit code of a request the server refuses before running anything (CONTRACT §1:
/// usage or input error).
const BAD_REQUEST: u8 = 2;
/// Exit code of a request the server could not run (CONTRACT §1: anything else).
const FAILED: u8 = 1;

/// The socket file; removed when dropped, so a panic or an early return does not leave
/// a stale socket behind (a later `run` would clean it up anyway).
#[derive(Debug)]
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.0) {
            Ok(()) => tracing::debug!(socket = %self.0.display(), "control socket removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(socket = %self.0.display(), error = %e, "cannot remove the control socket")
            }
        }
    }
}

/// A bound socket, not yet serving. Binding is synchronous so that `run` can refuse to
/// start before it starts anything else.
#[derive(Debug)]
pub struct Listener {
    listener: std::os::unix::net::UnixListener,
    /// Our own uid: the owner of the socket file we just created (no `getuid` without
    /// `unsafe` or another crate, and the file's owner is by definition our euid).
    uid: u32,
    file: SocketFile,
}

impl Listener {
    /// Bind `<data_dir>/control.sock`. A socket file nobody answers on is stale (a
    /// crashed instance) and is replaced; one that answers means another instance
    /// serves this store. The caller holds the store's lock, so no other `run` can be
    /// binding at the same time.
    pub fn bind(data_dir: &Path) -> Result<Self, Error> {
        let path = socket_path(data_dir);
        let shown = path.display().to_string();
        // sockaddr_un holds 108 bytes on Linux (104 on the BSDs), terminator included.
        let too_long = path.as_os_str().len() >= 104;
        let bind_err = |e: std::io::Error| Error::Bind {
            path: shown.clone(),
            reason: if too_long {
                format!("{e} (a Unix socket path must be shorter than 104 bytes: use a shorter --data-dir)")
            } else {
                e.to_string()
            },
        };
        let listener = match std::os::unix::net::UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                    return Err(Error::AlreadyRunning { path: shown });
                }
                // Only ever remove a socket: a regular file of that name is not ours.
                let is_socket = std::fs::symlink_metadata(&path)
                    .map(|m| m.file_type().is_socket())
                    .map_err(bind_err)?;
                if !is_socket {
                    return Err(Error::Bind {
                        path: shown,
                        reason: "a file that is not a socket is in the way: move it".into(),
                    });
                }
                tracing::info!(socket = %shown, "removing a stale control socket");
                std::fs::remove_file(&path).map_err(bind_err)?;
                std::os::unix::net::UnixListener::bind(&path).map_err(bind_err)?
            }
            Err(e) => return Err(bind_err(e)),
        };
        let file = SocketFile(path.clone());
        // Owner only. The file exists with the umask's mode for a moment before this;
        // the peer uid check below is what actually keeps other users out.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(bind_err)?;
        let uid = std::fs::metadata(&path).map_err(bind_err)?.uid();
        listener.set_nonblocking(true).map_err(bind_err)?;
        tracing::info!(socket = %shown, "control socket listening");
        Ok(Self {
            listener,
            uid,
            file,
        })
    }

    /// Serve until `shutdown` turns true (or [`Server::stop`]). Must be called inside
    /// a tokio runtime.
    pub fn serve(self, handler: Handler, shutdown: watch::Receiver<bool>) -> Result<Server, Error> {
        let listener =
            tokio::net::UnixListener::from_std(self.listener).map_err(|e| Error::Bind {
                path: self.file.0.display().to_string(),
                reason: e.to_string(),
            })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, handler, self.uid, shutdown, stopped));
        Ok(Server {
            stop,
            task,
            _file: self.file,
        })
    }
}

/// A serving control socket; owned by `run` and awaited at shutdown.
#[derive(Debug)]
pub struct Server {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    _file: SocketFile,
}

impl Server {
    /// Stop accepting, let the commands in flight finish and answer, remove the socket.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the control socket task failed");
        }
        // `_file` drops here: the socket file goes once nothing is served on it.
    }
}

/// Resolves when `rx` turns true or its sender is gone (nobody can stop us then; treat
/// it as a stop, as the pollers do).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

async fn accept_loop(
    listener: tokio::net::UnixListener,
    handler: Handler,
    uid: u32,
    mut shutdown: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT));
    let mut tasks = JoinSet::new();
    loop {
        while let Some(done) = tasks.try_join_next() {
            if let Err(e) = done {
                tracing::error!(error = %e, "a control connection task failed");
            }
        }
        // Take a slot before accepting: when all are busy, callers wait in the backlog.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = stopped(&mut shutdown) => break,
            () = stopped(&mut stop) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stopped(&mut shutdown) => break,
            () = stopped(&mut stop) => break,
        };
        match accepted {
            Ok((stream, _)) => {
                tasks.spawn(connection(stream, handler.clone(), uid, permit));
            }
            Err(e) => {
                // Out of descriptors, say: do not spin.
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    tracing::debug!(
        in_flight = tasks.len(),
        "control socket closed; finishing commands"
    );
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "a control connection task failed");
        }
    }
}

/// Serve one connection: check the peer, read one request, run it, answer.
async fn connection(stream: UnixStream, handler: Handler, uid: u32, _permit: OwnedSemaphorePermit) {
    let peer = stream.peer_cred().map(|c| c.uid());
    let (read, mut write) = stream.into_split();
    let response = match peer {
        Ok(peer) if peer == uid => match read_request(read).await {
            Ok(Some(request)) => run_request(handler, request).await,
            // Connected and closed without a word: a liveness probe.
            Ok(None) => return,
            Err(response) => response,
        },
        Ok(peer) => {
            tracing::warn!(
                peer_uid = peer,
                uid,
                "control request from another user refused"
            );
            Response::error(
                FAILED,
                format_args!(
                    "the running trustwatch serves only its own user (uid {uid}): run the \
                     command as that user"
                ),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell who is on the control socket; refused");
            Response::error(FAILED, "the control socket cannot identify you")
        }
    };
    let frame = match encode(&response) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a control response");
            return;
        }
    };
    let written = tokio::time::timeout(WRITE_TIMEOUT, async {
        write.write_all(&frame).await?;
        write.shutdown().await
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "control client went away before the answer"),
        Err(_) => tracing::warn!("control client did not read its answer in time"),
    }
}

/// One bounded, timed request. `Ok(None)`: nothing was sent; `Err`: the answer to give.
async fn read_request(read: tokio::net::unix::OwnedReadHalf) -> Result<Option<Request>, Response> {
    let bad = |e: Error| Response::error(BAD_REQUEST, format_args!("bad control request: {e}"));
    let mut buf = Vec::new();
    let cap = u64::try_from(MAX_REQUEST)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut reader = BufReader::new(read).take(cap);
    match tokio::time::timeout(READ_TIMEOUT, reader.read_until(b'\n', &mut buf)).await {
        Err(_) => {
            return Err(Response::error(
                BAD_REQUEST,
                format_args!(
                    "bad control request: none complete within {}s",
                    READ_TIMEOUT.as_secs()
                ),
            ))
        }
        Ok(Err(e)) => {
            return Err(bad(Error::Io {
                op: "read the request",
                reason: e.to_string(),
            }))
        }
        Ok(Ok(_)) => {}
    }
    let Some(frame) = finish_frame(buf, MAX_REQUEST).map_err(bad)? else {
        return Ok(None);
    };
    let request: Request = decode(&frame).map_err(bad)?;
    if request.version > PROTOCOL_VERSION {
        return Err(Response::error(
            BAD_REQUEST,
            format_args!(
                "this trustwatch run speaks control protocol {PROTOCOL_VERSION}, the command \
                 speaks {}: use the same trustwatch version for both",
                request.version
            ),
        ));
    }
    Ok(Some(request))
}

/// Run the handler on a thread of its own and wait for it without blocking tokio.
async fn run_request(handler: Handler, request: Request) -> Response {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("trustwatch-control".into())
        .spawn(move || {
            let _ = tx.send(handler(request));
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start a thread for a control request");
        return Response::error(FAILED, "the running trustwatch cannot start a thread");
    }
    rx.await.unwrap_or_else(|_| {
        // The thread ended without an answer: the command panicked.
        tracing::error!("a forwarded command ended without an answer");
        Response::error(
            FAILED,
            "the command failed unexpectedly in the running trustwatch (see its log)",
        )
    })
}
