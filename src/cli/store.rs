//! `trustwatch store export|import`: logical backups of the whole store as JSON.

use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use clap::Subcommand;

use super::{exit, print, Context, Failure, Outcome};

/// Largest backup `store import` reads.
const MAX_BACKUP: u64 = 1 << 30;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Write everything (anchors, audit log, findings) to FILE as JSON, atomically.
    Export { file: PathBuf },
    /// Restore an export into an empty store.
    Import { file: PathBuf },
}

pub(super) fn run(ctx: &Context, cmd: StoreCommand) -> Outcome {
    match cmd {
        StoreCommand::Export { file } => {
            let store = ctx.open_store()?;
            store.export_to(&file).map_err(Failure::other)?;
            print(&format!("exported the store to {}\n", file.display()))?;
        }
        StoreCommand::Import { file } => {
            let bytes =
                crate::package::read_file_to_cap(&file, MAX_BACKUP).map_err(Failure::usage)?;
            let export = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a trustwatch export", file.display()))
                .map_err(Failure::usage)?;
            let store = ctx.open_store()?;
            store
                .import(&export)
                .map_err(|e| Failure::other(anyhow!(e)))?;
            print(&format!(
                "imported {} into {}\n",
                file.display(),
                ctx.data_dir.display()
            ))?;
        }
    }
    Ok(exit::OK)
}
