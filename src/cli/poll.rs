//! `trustwatch poll --once`: one cycle over every source; prints the findings that are
//! new since the last cycle (json: one object per line, CONTRACT §5), then delivers the
//! chat outboxes as `run` would, with a bounded effort; what is left queued is said on
//! stderr.

use std::fmt::Write as _;

use anyhow::anyhow;
use clap::Args;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{exit, print, Context, Failure, Format, Outcome};
use crate::advisory::FindingKind;
use crate::fetch::Fetcher;
use crate::poll::{poll_once, Reported};

#[derive(Debug, Args)]
pub struct PollArgs {
    /// Poll every source once and exit (the scheduled loop is `trustwatch run`).
    #[arg(long)]
    pub once: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// CONTRACT §5's JSON line.
#[derive(Serialize)]
struct Line<'a> {
    kind: FindingKind,
    vendor: &'a str,
    title: &'a str,
    url: &'a str,
    #[serde(with = "time::serde::rfc3339::option")]
    published: Option<OffsetDateTime>,
    fingerprints: Vec<String>,
    certificates: Vec<String>,
    cves: &'a [String],
    config_keys: &'a [String],
    summary: &'a str,
    /// Extension: true when this is an edited entry reported again.
    update: bool,
}

pub(super) fn run(ctx: &Context, args: &PollArgs) -> Outcome {
    if !args.once {
        return Err(Failure::usage(anyhow!(
            "poll needs --once (the scheduled loop is `trustwatch run`)"
        )));
    }
    // Sinks first: a missing webhook variable fails before anything is recorded.
    let discord = super::notify::discord(ctx)?;
    let store = ctx.open_store()?;
    let sinks = super::notify::sinks(ctx, discord.as_ref(), Some(store.clone()))?;
    let fetcher = Fetcher::new(&ctx.config.http).map_err(Failure::other)?;
    let runtime = super::notify::runtime()?;
    let reported = runtime
        .block_on(poll_once(
            &ctx.config,
            &store,
            &fetcher,
            OffsetDateTime::now_utc(),
        ))
        .map_err(Failure::other)?;
    // Printed in 64 KiB pieces rather than one string: a first poll of thousands of
    // sources reports thousands of findings.
    let mut out = String::new();
    let any = !reported.is_empty();
    for r in reported.iter() {
        out.push_str(&render(r, args.format));
        if out.len() >= 64 << 10 {
            print(&out)?;
            out.clear();
        }
    }
    if args.format == Format::Text && !any {
        out.push_str("no new findings\n");
    }
    print(&out)?;
    if ctx.store.is_some() {
        // Forwarded to a running `trustwatch run`: its delivery tasks own the outboxes
        // (two drainers could post the same item twice), and pick these up on their
        // next tick.
        if !reported.is_empty() && !sinks.is_empty() {
            super::eprint("queued for delivery by the running trustwatch run\n");
        }
    } else {
        runtime.block_on(super::notify::deliver(ctx, &store, &sinks));
    }
    Ok(exit::OK)
}

/// One finding as printed: a JSON line, or a text block.
pub(crate) fn render(r: &Reported, format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Json => {
            if let Ok(json) = serde_json::to_string(&line(r)) {
                let _ = writeln!(out, "{json}");
            }
        }
        Format::Text => render_text(&mut out, r),
    }
    out
}

fn line(r: &Reported) -> Line<'_> {
    let f = &r.finding;
    Line {
        kind: f.kind,
        vendor: &f.vendor,
        title: &f.title,
        url: &f.url,
        published: f.published,
        fingerprints: f
            .fingerprints
            .iter()
            .map(ToString::to_string)
            .chain(f.sha1_fingerprints.iter().cloned())
            .collect(),
        certificates: f.certificates.iter().map(ToString::to_string).collect(),
        cves: &f.cves,
        config_keys: &f.config_keys,
        summary: &f.summary,
        update: r.update,
    }
}

fn render_text(out: &mut String, r: &Reported) {
    let f = &r.finding;
    let kind = serde_json::to_value(f.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let when = f
        .published
        .and_then(|p| p.format(&Rfc3339).ok())
        .unwrap_or_else(|| "undated".into());
    let update = if r.update { " (updated)" } else { "" };
    let _ = writeln!(out, "[{kind}] {}: {}{update}", f.vendor, f.title);
    let _ = writeln!(out, "  {} ({when})", f.url);
    for fp in &f.fingerprints {
        let _ = writeln!(out, "  fingerprint sha256 {fp}");
    }
    for fp in &f.sha1_fingerprints {
        let _ = writeln!(out, "  fingerprint (SHA-1/OpenPGP) {fp}");
    }
    for c in &f.certificates {
        let _ = writeln!(out, "  certificate sha256 {c}");
    }
    if f.kind == FindingKind::CaRotation
        && !(f.fingerprints.is_empty() && f.certificates.is_empty())
    {
        let _ = writeln!(out, "  recorded as candidate anchors: not trusted until a person runs `trustwatch trust approve`");
    }
    if !f.cves.is_empty() {
        let _ = writeln!(out, "  {}", f.cves.join(", "));
    }
    for k in &f.config_keys {
        let _ = writeln!(out, "  config key {k}");
    }
    if !f.summary.is_empty() {
        let _ = writeln!(out, "  {}", f.summary);
    }
    out.push('\n');
}
