//! The command line's side of the control socket (`crate::control`).
//!
//! Client: when the store is held by `trustwatch run`, the command is forwarded with its
//! argv, the client's working directory and the client's actor, and the client prints
//! what comes back and exits with the code that comes back, so scripts cannot tell the
//! difference (exit codes of `verify` included).
//!
//! Server: each forwarded command is parsed by the same clap definition and run by the
//! same command code, with a [`Context`] holding the running instance's store, its own
//! configuration and the client's actor, and with `cli::print` captured on the thread
//! that runs it. Relative paths are made absolute against the client's directory first.
//! `run` and `store import` are refused: both need the store to themselves.

use std::cell::RefCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;
use clap::Parser as _;
use tokio::sync::watch;

use super::store::StoreCommand;
use super::trust::TrustCommand;
use super::{dispatch, exit, local_actor, print, Cli, Command, Context, Failure, Outcome};
use crate::config::Config;
use crate::control::{self, Request, Response, PROTOCOL_VERSION};
use crate::store::Store;

/// Longest actor name taken from a client (it ends up in every audit entry).
const MAX_ACTOR: usize = 256;

// Output capture. Every command prints through `cli::print`, so capturing there covers
// every command, present and future, without threading a writer through each one; a
// forwarded command runs alone on a fresh thread, so a thread-local scoped to that
// thread is exactly one invocation's output. (A writer in `Context` would leak the
// output of any command that forgot to use it into the server's stdout.)
thread_local! {
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
    static CAPTURE_ERR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Run `f` with this thread's `print` and `eprint` output collected and returned.
fn captured<T>(f: impl FnOnce() -> T) -> (T, String, String) {
    CAPTURE.with(|c| *c.borrow_mut() = Some(String::new()));
    CAPTURE_ERR.with(|c| *c.borrow_mut() = Some(String::new()));
    let out = f();
    let text = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    let err = CAPTURE_ERR
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default();
    (out, text, err)
}

fn append(slot: &'static std::thread::LocalKey<RefCell<Option<String>>>, text: &str) -> bool {
    slot.with(|c| match c.borrow_mut().as_mut() {
        Some(buf) => {
            buf.push_str(text);
            true
        }
        None => false,
    })
}

/// Append `text` to this thread's stdout capture; `false` when output is not captured.
pub(super) fn capture(text: &str) -> bool {
    append(&CAPTURE, text)
}

/// Append `text` to this thread's stderr capture; `false` when output is not captured.
pub(super) fn capture_err(text: &str) -> bool {
    append(&CAPTURE_ERR, text)
}

/// Forward this invocation to the instance serving `ctx.data_dir`, if one answers.
/// `None`: nothing answers (or it closed without answering), run locally.
pub(super) fn forward(ctx: &Context) -> Option<Outcome> {
    let stream = control::connect(&ctx.data_dir)?;
    let request = match client_request() {
        Ok(r) => r,
        Err(f) => return Some(Err(f)),
    };
    tracing::info!(
        socket = %control::socket_path(&ctx.data_dir).display(),
        "the store is served by `trustwatch run`: forwarding the command"
    );
    match control::exchange(stream, &request) {
        Ok(Some(response)) => Some(reproduce(&response)),
        Ok(None) => {
            tracing::info!("the running instance closed without answering: running locally");
            None
        }
        Err(e) => Some(Err(Failure::other(anyhow!(
            "the running trustwatch did not answer properly ({e}); try again, or stop \
             `trustwatch run` and run the command alone"
        )))),
    }
}

fn client_request() -> Result<Request, Failure> {
    let argv = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string().map_err(|a| {
                Failure::usage(anyhow!(
                    "{} is not UTF-8 and cannot be forwarded to `trustwatch run`",
                    a.to_string_lossy()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::other(anyhow!("cannot read the current directory: {e}")))?;
    Ok(Request {
        version: PROTOCOL_VERSION,
        argv,
        cwd,
        actor: local_actor(),
    })
}

/// Print what the running instance printed and exit as it exited.
fn reproduce(response: &Response) -> Outcome {
    if response.version != PROTOCOL_VERSION {
        tracing::debug!(
            server = response.version,
            client = PROTOCOL_VERSION,
            "protocol versions differ"
        );
    }
    print(&response.stdout)?;
    if !response.stderr.is_empty() {
        eprint!("{}", response.stderr);
    }
    Ok(response.code)
}

/// `run`'s control socket, bound but not yet serving.
pub(super) struct ControlSocket {
    listener: control::Listener,
    config: Arc<Config>,
    data_dir: PathBuf,
    store: Arc<Store>,
}

/// Bind the control socket for `run` (before anything else starts, so a second `run`
/// on the same store is refused at once).
pub(super) fn listen(ctx: &Context, store: &Arc<Store>) -> Result<ControlSocket, Failure> {
    let listener = control::Listener::bind(&ctx.data_dir).map_err(|e| match e {
        control::Error::AlreadyRunning { .. } => Failure::usage(e),
        e => Failure::other(e),
    })?;
    Ok(ControlSocket {
        listener,
        config: Arc::new(ctx.config.clone()),
        data_dir: ctx.data_dir.clone(),
        store: store.clone(),
    })
}

impl ControlSocket {
    /// Serve while `work` (the service) runs; when it ends, stop accepting, let the
    /// forwarded commands in flight finish, remove the socket and flush the store.
    pub(super) async fn serve_while<F: Future>(
        self,
        shutdown: watch::Receiver<bool>,
        work: F,
    ) -> Result<F::Output, Failure> {
        let Self {
            listener,
            config,
            data_dir,
            store,
        } = self;
        let shared = store.clone();
        let handler: control::Handler =
            Arc::new(move |request| serve_one(&config, &data_dir, &shared, request));
        let server = listener.serve(handler, shutdown).map_err(Failure::other)?;
        let out = work.await;
        server.stop().await;
        store.flush().map_err(Failure::other)?;
        Ok(out)
    }
}

/// Run one forwarded command as the CLI would have, and say what it printed.
fn serve_one(config: &Config, data_dir: &Path, store: &Arc<Store>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let span = tracing::info_span!("control", actor = %request.actor);
    let _entered = span.enter();
    let argv = std::iter::once("trustwatch".to_owned()).chain(request.argv);
    let mut command = match Cli::try_parse_from(argv) {
        Ok(cli) => cli.command,
        Err(e) => {
            let text = e.render().to_string();
            let (code, stdout, stderr) = if e.use_stderr() {
                (exit::USAGE, String::new(), text)
            } else {
                (exit::OK, text, String::new())
            };
            return Response {
                version: PROTOCOL_VERSION,
                code,
                stdout,
                stderr,
            };
        }
    };
    if let Some(why) = refusal(&command, data_dir) {
        return Response::error(exit::USAGE, why);
    }
    let actor = request.actor.trim();
    if actor.is_empty() || actor.len() > MAX_ACTOR || actor.chars().any(char::is_control) {
        return Response::error(
            exit::USAGE,
            "the forwarded actor name is empty or not printable",
        );
    }
    if !request.cwd.is_absolute() {
        return Response::error(
            exit::USAGE,
            "the forwarded working directory is not absolute",
        );
    }
    resolve_paths(&mut command, &request.cwd);
    let ctx = Context {
        config: config.clone(),
        data_dir: data_dir.to_path_buf(),
        store: Some(store.clone()),
        actor: actor.to_owned(),
    };
    let (outcome, stdout, mut stderr) = captured(|| dispatch(&ctx, command));
    let code = match outcome {
        Ok(code) => code,
        Err(f) => {
            stderr.push_str(&super::render_failure(&f));
            f.code
        }
    };
    tracing::info!(
        code,
        millis = started.elapsed().as_millis(),
        "forwarded command done"
    );
    Response {
        version: PROTOCOL_VERSION,
        code,
        stdout,
        stderr,
    }
}

/// Commands that cannot run beside `run`.
fn refusal(command: &Command, data_dir: &Path) -> Option<String> {
    match command {
        Command::Run(_) => Some(format!(
            "`trustwatch run` is already up on the store at {}: one instance per store; \
             stop `trustwatch run` first",
            data_dir.display()
        )),
        Command::Store(StoreCommand::Import { .. }) => Some(
            "store import restores into an empty store that it has to itself: stop \
             `trustwatch run` first"
                .to_owned(),
        ),
        _ => None,
    }
}

/// Make every relative path in `command` absolute against the client's directory. The
/// match is exhaustive on purpose: a new command must say which of its arguments are
/// paths before it compiles.
fn resolve_paths(command: &mut Command, cwd: &Path) {
    let abs = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = cwd.join(&*p);
        }
    };
    let abs_opt = |p: &mut Option<PathBuf>| {
        if let Some(p) = p {
            abs(p);
        }
    };
    match command {
        Command::Verify(a) => {
            abs(&mut a.package);
            abs_opt(&mut a.signature);
            abs_opt(&mut a.certs);
        }
        Command::Escalate(a) => {
            // A fingerprint or a package: a package when the client sees such a file,
            // as `escalate` decides locally.
            let joined = cwd.join(&a.target);
            if Path::new(&a.target).is_relative() && joined.is_file() {
                a.target = joined.to_string_lossy().into_owned();
            }
            abs_opt(&mut a.signature);
            abs_opt(&mut a.certs);
        }
        Command::Trust(TrustCommand::Add { cert_file, .. }) => abs(cert_file),
        Command::Trust(
            TrustCommand::List { .. }
            | TrustCommand::Approve { .. }
            | TrustCommand::Revoke { .. }
            | TrustCommand::Audit { .. },
        )
        | Command::Run(_)
        | Command::Poll(_)
        | Command::Notify(_)
        | Command::Status(_)
        | Command::Completions(_)
        | Command::Man => {}
        Command::Store(StoreCommand::Export { file } | StoreCommand::Import { file }) => abs(file),
        Command::Store(StoreCommand::Clock { .. }) => {}
    }
}

/// `true` when `f` failed because another process holds the store.
pub(super) fn is_locked(f: &Failure) -> bool {
    matches!(
        f.error.downcast_ref::<crate::store::Error>(),
        Some(crate::store::Error::Locked { .. })
    )
}

#[cfg(test)]
mod tests;
