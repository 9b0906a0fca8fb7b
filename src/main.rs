//! The `trustwatch` binary: parse the command line, start logging, run, exit.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match trustwatch::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    trustwatch::telemetry::init(cli.verbose, cli.quiet, cli.log_format);
    trustwatch::cli::run(cli)
}
