//! `trustwatch escalate SHA256|PACKAGE`: print the escalation script (CONTRACT §5).

use std::path::{Path, PathBuf};

use clap::Args;
use time::OffsetDateTime;

use super::verify::{verify_package, VerifyArgs};
use super::{exit, print, Context, Failure, Format, Outcome};
use crate::escalation;
use crate::trust::Fingerprint;

#[derive(Debug, Args)]
pub struct EscalateArgs {
    /// A fingerprint (SHA-256 of the certificate) or a package file.
    pub target: String,
    /// Detached signature, when the package is a plain file.
    #[arg(long, value_name = "SIG")]
    pub signature: Option<PathBuf>,
    /// Certificates for a raw detached signature.
    #[arg(long, value_name = "FILE", requires = "signature")]
    pub certs: Option<PathBuf>,
    /// The vendor to name (default: from the anchor, or the package's anchor).
    #[arg(long)]
    pub vendor: Option<String>,
}

pub(super) fn run(ctx: &Context, args: &EscalateArgs) -> Outcome {
    let path = Path::new(&args.target);
    let now = OffsetDateTime::now_utc();
    let e = if path.is_file() {
        let (report, evidence) = verify_package(
            ctx,
            &VerifyArgs {
                package: path.to_path_buf(),
                signature: args.signature.clone(),
                certs: args.certs.clone(),
                vendor: args.vendor.clone(),
                at: None,
                format: Format::Text,
            },
        )?;
        let store = ctx.open_store()?;
        let anchors = store.anchors(None).map_err(Failure::other)?;
        escalation::for_package(
            &report,
            &evidence,
            &anchors,
            &ctx.config,
            args.vendor.as_deref(),
            &args.target,
            now,
        )
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "no signing certificate could be read from {}: {}",
                args.target,
                report.reasons.join("; ")
            ))
        })?
    } else {
        let fp: Fingerprint = args.target.parse().map_err(|err| {
            Failure::usage(anyhow::anyhow!(
                "{} is neither an existing package file nor a fingerprint: {err}",
                args.target
            ))
        })?;
        let store = ctx.open_store()?;
        escalation::for_fingerprint(&store, &ctx.config, fp, args.vendor.as_deref(), now)
            .map_err(Failure::other)?
    };
    print(&escalation::render(&e))?;
    Ok(exit::OK)
}
