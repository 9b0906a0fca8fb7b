//! Logging: one `tracing` subscriber, to stderr so stdout stays for results.
//! `RUST_LOG` overrides the level chosen by `-v`/`-q`.

use tracing_subscriber::EnvFilter;

/// Initialise logging once. Later calls are ignored.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
