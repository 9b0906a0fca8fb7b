//! `trustwatch store export|import`: logical backups of the whole store as JSON.
//! `trustwatch store clock [--reset]`: the latest time the store has seen, and the way
//! out when it is in the future (a clock that jumped forward and was corrected).

use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use clap::Subcommand;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{exit, print, Context, Failure, Format, Outcome};
use crate::store::ClockReset;
use crate::trust::{AuditAction, AuditDraft};
use crate::verify::CLOCK_TOLERANCE;

/// Largest backup `store import` reads.
const MAX_BACKUP: u64 = 1 << 30;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Write everything (anchors, audit log, findings) to FILE as JSON, atomically.
    Export { file: PathBuf },
    /// Restore an export into an empty store.
    Import { file: PathBuf },
    /// Show the latest time the store has seen (verify refuses while the clock is more
    /// than 5 minutes behind it); `--reset` sets it back to now, audited.
    Clock {
        /// Set the remembered time to the clock's time: for a clock that jumped forward
        /// and was corrected. Refused when the clock is not behind it. Check the clock
        /// first: a clock wound back would make expired certificates look valid.
        #[arg(long)]
        reset: bool,
        /// Who resets it (default: the local user); in the audit log.
        #[arg(long, requires = "reset")]
        by: Option<String>,
        /// Why, for the audit log.
        #[arg(long, requires = "reset")]
        reason: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
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
        StoreCommand::Clock {
            reset,
            by,
            reason,
            format,
        } => return clock(ctx, reset, by, reason, format),
    }
    Ok(exit::OK)
}

/// `store clock` as JSON.
#[derive(Debug, Serialize)]
struct ClockView {
    /// The latest time the store has seen (`null`: none yet).
    #[serde(with = "time::serde::rfc3339::option")]
    latest_seen: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    now: OffsetDateTime,
    /// Seconds the clock is behind the latest time seen (0 when it is not).
    behind_seconds: i64,
    /// Whether `verify` refuses on the clock's account right now.
    verify_refused: bool,
    /// `--reset`: whether it reset, and the audit entry's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    reset: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_seq: Option<u64>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn tolerance_secs() -> i64 {
    i64::try_from(CLOCK_TOLERANCE.as_secs()).unwrap_or(i64::MAX)
}

fn view(latest: Option<OffsetDateTime>, now: OffsetDateTime) -> ClockView {
    let behind = latest.map_or(0, |l| (l - now).whole_seconds().max(0));
    ClockView {
        latest_seen: latest,
        now,
        behind_seconds: behind,
        verify_refused: behind > tolerance_secs(),
        reset: None,
        audit_seq: None,
    }
}

fn clock(
    ctx: &Context,
    reset: bool,
    by: Option<String>,
    reason: Option<String>,
    format: Format,
) -> Outcome {
    let store = ctx.open_store()?;
    // A reading of the clock, not remembered: showing must not move the remembered time.
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    if !reset {
        let latest = store.latest_clock().map_err(Failure::other)?;
        let v = view(latest, now);
        match format {
            Format::Json => print(&json(&v)?)?,
            Format::Text => print(&render(&v))?,
        }
        return Ok(exit::OK);
    }
    let actor = by.unwrap_or_else(|| ctx.actor.clone());
    let draft = AuditDraft {
        at: now,
        actor,
        action: AuditAction::ClockReset,
        reason,
        source: None,
    };
    match store
        .reset_clock(&draft, CLOCK_TOLERANCE)
        .map_err(Failure::other)?
    {
        ClockReset::NotNeeded { latest } => Err(Failure::usage(anyhow!(
            "nothing to reset: {}; verify is not refused on the clock's account, and the \
             remembered time only goes back when the clock is more than {} minutes behind it",
            match latest {
                Some(l) => format!(
                    "the clock ({}) is not behind the latest time this store has seen ({})",
                    rfc3339(now),
                    rfc3339(l)
                ),
                None => "this store has not remembered a time yet".to_owned(),
            },
            CLOCK_TOLERANCE.as_secs() / 60
        ))),
        ClockReset::Reset { entry } => {
            tracing::warn!(
                actor = %entry.actor,
                seq = entry.seq,
                from = %entry.clock_from.map(rfc3339).unwrap_or_default(),
                to = %rfc3339(now),
                "remembered clock reset"
            );
            let mut v = view(Some(now), now);
            v.reset = Some(true);
            v.audit_seq = Some(entry.seq);
            match format {
                Format::Json => print(&json(&v)?)?,
                Format::Text => print(&format!(
                    "reset the remembered clock from {} to {} by {} (audit #{})\n",
                    entry.clock_from.map(rfc3339).unwrap_or_default(),
                    rfc3339(now),
                    entry.actor,
                    entry.seq
                ))?,
            }
            Ok(exit::OK)
        }
    }
}

fn json(v: &ClockView) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(Failure::other)
}

fn render(v: &ClockView) -> String {
    let latest = v.latest_seen.map_or_else(|| "none yet".to_owned(), rfc3339);
    let mut out = format!(
        "latest time seen: {latest}\nclock now:        {}\n",
        rfc3339(v.now)
    );
    if v.verify_refused {
        out.push_str(&format!(
            "the clock is {} s behind it (more than {} min): verify refuses to decide.\n\
             If the clock is right now (it once ran ahead and was corrected), run \
             `trustwatch store clock --reset`; if it is wrong, fix the clock (NTP).\n",
            v.behind_seconds,
            CLOCK_TOLERANCE.as_secs() / 60
        ));
    } else {
        out.push_str("verify is not refused on the clock's account\n");
    }
    out
}
