//! The command line (CONTRACT §1). Printing and exit codes live here and nowhere else;
//! `anyhow` is used only at this edge.

mod control;
mod docs;
mod escalate;
mod notify;
mod poll;
mod run;
mod status;
mod store;
mod trust;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::store::Store;
use crate::telemetry::LogFormat;

/// `trustwatch --version`: the package version and the commit it was built from
/// (`build.rs`; `unknown` when neither git nor `TRUSTWATCH_COMMIT` was available).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TRUSTWATCH_COMMIT"),
    ")"
);

/// Exit codes of CONTRACT §1.
pub mod exit {
    pub const OK: u8 = 0;
    /// `verify`: invalid; other commands: anything that is not a usage error.
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const UNKNOWN_SIGNER: u8 = 3;
    pub const PENDING: u8 = 4;
}

#[derive(Debug, Parser)]
#[command(
    name = "trustwatch",
    version = VERSION,
    about = "Verify vendor packages against a locally approved trust store",
    long_about = "Verify vendor packages against a locally approved trust store, and keep \
                  that store honest: anchors learnt from vendors' advisories are never trusted \
                  until a person approves them."
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "TRUSTWATCH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Store directory (default: store.path from the config, else ./data).
    #[arg(long, global = true, env = "TRUSTWATCH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors in the log.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log line format on stderr.
    #[arg(
        long,
        global = true,
        env = "TRUSTWATCH_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify a package against the local trust store.
    Verify(verify::VerifyArgs),
    /// Manage trust anchors.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Poll every source on its schedule until SIGINT/SIGTERM.
    Run(run::RunArgs),
    /// Poll every configured source once and print the new findings.
    Poll(poll::PollArgs),
    /// Print the escalation script for an unknown or pending signing key.
    Escalate(escalate::EscalateArgs),
    /// Send a test message to every configured chat sink (`--test`).
    Notify(notify::NotifyArgs),
    /// Sources, chat outboxes, findings not posted, store size.
    Status(FormatArg),
    /// Back up and restore the store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Print a shell completion script to stdout.
    Completions(docs::CompletionsArgs),
    /// Print the manual page (roff) to stdout.
    Man,
}

/// Options every command that reads the store shares.
#[derive(Debug, Args)]
pub struct FormatArg {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The default config path of CONTRACT §1.
const DEFAULT_CONFIG: &str = "config/trustwatch.toml";

/// A failure with its exit code: usage and input errors exit 2, the rest 1.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: exit::USAGE,
            error: error.into(),
        }
    }

    pub fn other(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: exit::FAILURE,
            error: error.into(),
        }
    }
}

/// What a command returns: an exit code, or a failure to report.
pub type Outcome = Result<u8, Failure>;

pub(crate) struct Context {
    pub config: Config,
    pub data_dir: PathBuf,
    /// The running instance's store, when the command was forwarded to `trustwatch run`
    /// over its control socket; `None` opens the store in `data_dir`.
    pub(crate) store: Option<Arc<Store>>,
    /// Who is behind the command, for the audit log when no `--by` is given:
    /// [`local_actor`] here, the client's when the command was forwarded.
    pub(crate) actor: String,
}

impl Context {
    fn load(cli: &Cli) -> Result<Self, Failure> {
        let (config, source) = match &cli.config {
            Some(path) => (
                Config::load(path).map_err(Failure::usage)?,
                path.display().to_string(),
            ),
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG);
                if default.exists() {
                    (
                        Config::load(&default).map_err(Failure::usage)?,
                        default.display().to_string(),
                    )
                } else {
                    (Config::default(), "built-in defaults".to_owned())
                }
            }
        };
        let data_dir = cli
            .data_dir
            .clone()
            .unwrap_or_else(|| config.store.path.clone());
        tracing::info!(
            config = %source,
            data_dir = %data_dir.display(),
            version = VERSION,
            "configuration loaded"
        );
        Ok(Self {
            config,
            data_dir,
            store: None,
            actor: local_actor(),
        })
    }

    /// The store: the running instance's when forwarded, else opened from `data_dir`.
    pub(crate) fn open_store(&self) -> Result<Arc<Store>, Failure> {
        if let Some(store) = &self.store {
            return Ok(store.clone());
        }
        Store::open(
            &self.data_dir,
            crate::store::StoreOptions {
                cache_bytes: self.config.store.cache,
            },
        )
        .map(Arc::new)
        .map_err(Failure::other)
    }
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    // Completions and the man page need no configuration or store.
    let outcome = match &cli.command {
        Command::Completions(args) => docs::completions(args),
        Command::Man => docs::man(),
        _ => run_with_context(cli),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprint!("{}", render_failure(&f));
            ExitCode::from(f.code)
        }
    }
}

/// A failure as printed on stderr.
fn render_failure(f: &Failure) -> String {
    format!("error: {:#}\n", f.error)
}

/// Run the command here, or in the running `trustwatch run` when it holds the store
/// (CONTRACT §6): its control socket is asked first when it exists (a socket that
/// answers means an instance holds the store, so opening it would only wait for the
/// lock and fail), and again when opening the store finds it locked (the instance may
/// have started meanwhile). With no instance answering, the Locked error stands.
fn run_with_context(cli: Cli) -> Outcome {
    let ctx = Context::load(&cli)?;
    if let Some(outcome) = control::forward(&ctx) {
        return outcome;
    }
    match dispatch(&ctx, cli.command) {
        Err(f) if control::is_locked(&f) => control::forward(&ctx).unwrap_or(Err(f)),
        other => other,
    }
}

fn dispatch(ctx: &Context, command: Command) -> Outcome {
    match command {
        Command::Verify(args) => verify::run(ctx, &args),
        Command::Trust(cmd) => trust::run(ctx, cmd),
        Command::Escalate(args) => escalate::run(ctx, &args),
        Command::Poll(args) => poll::run(ctx, &args),
        Command::Run(args) => run::run(ctx, &args),
        Command::Store(cmd) => store::run(ctx, cmd),
        Command::Notify(args) => notify::run(ctx, &args),
        Command::Status(args) => status::run(ctx, &args),
        Command::Completions(args) => docs::completions(&args),
        Command::Man => docs::man(),
    }
}

/// Write to stdout; a closed pipe (`trustwatch ... | head`) is not an error. A command
/// forwarded over the control socket writes to its captured output instead.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    if control::capture(text) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::other(anyhow::anyhow!("cannot write output: {e}"))),
    }
}

/// Write a line for the person to stderr (not the log): a warning that belongs to the
/// command's output. A forwarded command's goes back to the client.
pub(crate) fn eprint(text: &str) {
    if control::capture_err(text) {
        return;
    }
    eprint!("{text}");
}

/// The person behind a CLI change, for the audit log.
pub(crate) fn local_actor() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .map_or_else(|| "cli".to_owned(), |u| format!("cli:{u}"))
}
