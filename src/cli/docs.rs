//! `trustwatch completions SHELL` and `trustwatch man`: shell completion scripts and the
//! manual page, generated from the clap definition so they never drift from the parser.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{exit, print, Cli, Failure, Outcome};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Print the completion script for `args.shell`.
pub(crate) fn completions(args: &CompletionsArgs) -> Outcome {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "trustwatch", &mut out);
    tracing::debug!(shell = %args.shell, bytes = out.len(), "completion script generated");
    print_bytes(&out)?;
    Ok(exit::OK)
}

/// Print the manual page, roff, for `man -l -` or `/usr/share/man/man1/trustwatch.1`.
pub(crate) fn man() -> Outcome {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::other(anyhow::anyhow!("cannot render the man page: {e}")))?;
    tracing::debug!(bytes = out.len(), "man page generated");
    print_bytes(&out)?;
    Ok(exit::OK)
}

fn print_bytes(out: &[u8]) -> Result<(), Failure> {
    print(&String::from_utf8_lossy(out))
}
