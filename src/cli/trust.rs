//! `trustwatch trust add|list|approve|revoke|audit`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{exit, print, Context, Failure, Format, Outcome};
use crate::store::Store;
use crate::trust::approval::{self, Change};
use crate::trust::{cert, import, Anchor, AnchorState, Fingerprint};

/// Largest certificate file `trust add` reads.
const MAX_CERT_FILE: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AddState {
    Approved,
    Candidate,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Import every certificate in a PEM/DER/PKCS#7 file as an anchor.
    Add {
        cert_file: PathBuf,
        #[arg(long)]
        vendor: String,
        #[arg(long, value_enum, default_value_t = AddState::Approved)]
        state: AddState,
        /// Where the certificate came from (default: the file name).
        #[arg(long)]
        source: Option<String>,
        /// Who is adding it (default: the local user).
        #[arg(long)]
        by: Option<String>,
    },
    /// List anchors.
    List {
        #[arg(long)]
        vendor: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Approve a candidate (or revoked) anchor.
    Approve {
        sha256: String,
        /// Who approves (default: the local user).
        #[arg(long)]
        by: Option<String>,
    },
    /// Revoke an anchor: packages whose chain uses it become invalid.
    Revoke {
        sha256: String,
        #[arg(long)]
        reason: Option<String>,
        /// Who revokes (default: the local user).
        #[arg(long)]
        by: Option<String>,
    },
    /// Show the audit log: every anchor change, and every reset of the store's clock.
    Audit {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

pub(super) fn run(ctx: &Context, cmd: TrustCommand) -> Outcome {
    match cmd {
        TrustCommand::Add {
            cert_file,
            vendor,
            state,
            source,
            by,
        } => add(ctx, &cert_file, &vendor, state, source, by),
        TrustCommand::List { vendor, format } => list(ctx, vendor.as_deref(), format),
        TrustCommand::Approve { sha256, by } => {
            let fp = parse_fp(&sha256)?;
            let by = by.unwrap_or_else(|| ctx.actor.clone());
            let store = ctx.open_store()?;
            let now = OffsetDateTime::now_utc();
            let existing = store.anchor(&fp).map_err(Failure::other)?;
            let change =
                approval::plan_approve(existing.as_ref(), fp, &by, now).map_err(Failure::other)?;
            apply(&store, &change)?;
            print(&format!("approved {fp} ({}) by {by}\n", change.new.vendor))?;
            Ok(exit::OK)
        }
        TrustCommand::Revoke { sha256, reason, by } => {
            let fp = parse_fp(&sha256)?;
            let by = by.unwrap_or_else(|| ctx.actor.clone());
            let store = ctx.open_store()?;
            let now = OffsetDateTime::now_utc();
            let existing = store.anchor(&fp).map_err(Failure::other)?;
            let change = approval::plan_revoke(existing.as_ref(), fp, &by, reason.as_deref(), now)
                .map_err(Failure::other)?;
            apply(&store, &change)?;
            print(&format!("revoked {fp} ({}) by {by}\n", change.new.vendor))?;
            Ok(exit::OK)
        }
        TrustCommand::Audit { format } => audit(ctx, format),
    }
}

fn parse_fp(s: &str) -> Result<Fingerprint, Failure> {
    s.parse().map_err(Failure::usage)
}

fn apply(store: &Store, change: &Change) -> Result<(), Failure> {
    let entry = store
        .apply(change.previous.as_ref(), &change.new, &change.audit)
        .map_err(Failure::other)?;
    tracing::info!(
        anchor = %change.new.sha256,
        vendor = %change.new.vendor,
        state = change.new.state.as_str(),
        actor = %entry.actor,
        seq = entry.seq,
        "anchor changed"
    );
    Ok(())
}

fn add(
    ctx: &Context,
    file: &std::path::Path,
    vendor: &str,
    state: AddState,
    source: Option<String>,
    by: Option<String>,
) -> Outcome {
    if vendor.trim().is_empty() {
        return Err(Failure::usage(anyhow!("--vendor must name a vendor")));
    }
    if !ctx.config.vendors.is_empty() && ctx.config.vendor(vendor).is_none() {
        tracing::warn!(
            vendor,
            "vendor is not configured; its anchors are kept anyway"
        );
    }
    let bytes = crate::package::read_file_to_cap(file, MAX_CERT_FILE).map_err(Failure::usage)?;
    let certs = import::parse_certificates(&bytes)
        .map_err(|e| Failure::usage(anyhow!("{}: {e}", file.display())))?;
    let source = source.unwrap_or_else(|| file.display().to_string());
    let actor = by.unwrap_or_else(|| ctx.actor.clone());
    let state = match state {
        AddState::Approved => AnchorState::Approved,
        AddState::Candidate => AnchorState::Candidate,
    };
    let store = ctx.open_store()?;
    let now = OffsetDateTime::now_utc();
    let mut out = String::new();
    for der in certs {
        let info =
            cert::inspect(&der).map_err(|e| Failure::usage(anyhow!("{}: {e}", file.display())))?;
        let proposed = Anchor {
            sha256: info.sha256,
            vendor: vendor.to_owned(),
            state,
            source: source.clone(),
            first_seen: now,
            updated: now,
            cert_der: Some(der.to_vec()),
            subject: Some(info.subject.clone()),
            not_after: Some(info.not_after),
            revoked_reason: None,
        };
        let existing = store.anchor(&info.sha256).map_err(Failure::other)?;
        match approval::plan_add(existing.as_ref(), proposed, &actor, now)
            .map_err(Failure::other)?
        {
            Some(change) => {
                apply(&store, &change)?;
                let _ = writeln!(
                    out,
                    "{} {} {} ({})",
                    change.new.state, info.sha256, info.subject, vendor
                );
            }
            None => {
                let _ = writeln!(out, "unchanged {} {}", info.sha256, info.subject);
            }
        }
    }
    print(&out)?;
    Ok(exit::OK)
}

/// One row of `trust list --format json` (CONTRACT §1).
#[derive(Serialize)]
struct ListRow<'a> {
    sha256: Fingerprint,
    vendor: &'a str,
    state: AnchorState,
    source: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    first_seen: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    not_after: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_reason: Option<&'a str>,
}

fn list(ctx: &Context, vendor: Option<&str>, format: Format) -> Outcome {
    let store = ctx.open_store()?;
    let anchors = store.anchors(vendor).map_err(Failure::other)?;
    let rows: Vec<ListRow<'_>> = anchors
        .iter()
        .map(|a| ListRow {
            sha256: a.sha256,
            vendor: &a.vendor,
            state: a.state,
            source: &a.source,
            first_seen: a.first_seen,
            subject: a.subject.as_deref(),
            not_after: a.not_after,
            revoked_reason: a.revoked_reason.as_deref(),
        })
        .collect();
    match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&rows).map_err(Failure::other)?;
            print(&format!("{json}\n"))?;
        }
        Format::Text => {
            let mut out = String::new();
            if rows.is_empty() {
                out.push_str(
                    "no anchors: add one with `trustwatch trust add CERT --vendor NAME`\n",
                );
            }
            for r in &rows {
                let _ = writeln!(
                    out,
                    "{:<9} {} {:<12} {}",
                    r.state.as_str(),
                    r.sha256,
                    r.vendor,
                    r.subject.unwrap_or("(fingerprint only)")
                );
                let _ = writeln!(
                    out,
                    "          source {}, first seen {}{}",
                    r.source,
                    r.first_seen.format(&Rfc3339).unwrap_or_default(),
                    r.not_after
                        .and_then(|t| t.format(&Rfc3339).ok())
                        .map(|t| format!(", expires {t}"))
                        .unwrap_or_default()
                );
            }
            print(&out)?;
        }
    }
    Ok(exit::OK)
}

fn audit(ctx: &Context, format: Format) -> Outcome {
    let store = ctx.open_store()?;
    let entries = store.audit().map_err(Failure::other)?;
    match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&entries).map_err(Failure::other)?;
            print(&format!("{json}\n"))?;
        }
        Format::Text => {
            let mut out = String::new();
            for e in &entries {
                let what = match (e.sha256, e.to_state) {
                    (Some(fp), Some(to)) => format!(
                        "{fp} ({}) {} -> {to}",
                        e.vendor,
                        e.from_state.map_or("none", AnchorState::as_str)
                    ),
                    // A change of the store itself (`store clock --reset`).
                    _ => format!(
                        "remembered clock {} -> {}",
                        e.clock_from
                            .and_then(|t| t.format(&Rfc3339).ok())
                            .unwrap_or_else(|| "none".into()),
                        e.clock_to
                            .and_then(|t| t.format(&Rfc3339).ok())
                            .unwrap_or_else(|| "none".into())
                    ),
                };
                let _ = writeln!(
                    out,
                    "#{} {} {} {:?} {what}{}{}",
                    e.seq,
                    e.at.format(&Rfc3339).unwrap_or_default(),
                    e.actor,
                    e.action,
                    e.reason
                        .as_deref()
                        .map(|r| format!(", reason: {r}"))
                        .unwrap_or_default(),
                    e.source
                        .as_deref()
                        .map(|s| format!(", source: {s}"))
                        .unwrap_or_default()
                );
            }
            print(&out)?;
        }
    }
    Ok(exit::OK)
}
