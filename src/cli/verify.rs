//! `trustwatch verify`: verdict first, then why, then the chain (text), or CONTRACT §2's
//! JSON; exit code by verdict.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use rustls_pki_types::UnixTime;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{exit, print, Context, Failure, Format, Outcome};
use crate::config::Config;
use crate::package::Limits;
use crate::verify::{self, PackageInput, Report, Verdict, VerifyTime};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A zip package, or any file when --signature is given.
    pub package: PathBuf,
    /// Detached signature over PACKAGE: FILE.p7s (CMS) or FILE.sig (raw).
    #[arg(long, value_name = "SIG")]
    pub signature: Option<PathBuf>,
    /// Certificates for a raw signature (PEM/DER/PKCS#7).
    #[arg(long, value_name = "FILE", requires = "signature")]
    pub certs: Option<PathBuf>,
    /// Only this vendor's anchors may vouch for the package.
    #[arg(long, value_name = "NAME")]
    pub vendor: Option<String>,
    /// Verify as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub(crate) fn limits(config: &Config) -> Limits {
    Limits::from_config(&config.verify)
}

/// Parse `--at` (the operator's explicit choice), or take the clock.
pub(crate) fn verification_time(at: Option<&str>) -> Result<VerifyTime, Failure> {
    let Some(s) = at else {
        return Ok(VerifyTime::Clock(OffsetDateTime::now_utc()));
    };
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
        Failure::usage(anyhow!(
            "--at {s:?} is not an RFC 3339 time (like 2026-11-22T10:00:00Z): {e}"
        ))
    })?;
    let secs = u64::try_from(t.unix_timestamp())
        .map_err(|_| Failure::usage(anyhow!("--at must not be before 1970")))?;
    Ok(VerifyTime::Chosen(UnixTime::since_unix_epoch(
        std::time::Duration::from_secs(secs),
    )))
}

/// Verify a package and attach the stored advisories that mention its keys. Returns
/// the evidence too, so a caller (escalate) need not read the package twice.
pub(crate) fn verify_package(
    ctx: &Context,
    args: &VerifyArgs,
) -> Result<(Report, verify::Evidence), Failure> {
    for path in [
        Some(&args.package),
        args.signature.as_ref(),
        args.certs.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if !path.is_file() {
            return Err(Failure::usage(anyhow!(
                "{} does not exist or is not a file",
                path.display()
            )));
        }
    }
    let at = verification_time(args.at.as_deref())?;
    let store = ctx.open_store()?;
    let input = match &args.signature {
        Some(sig) => PackageInput::Detached {
            file: &args.package,
            signature: sig,
            certs: args.certs.as_deref(),
        },
        None => PackageInput::Zip(&args.package),
    };
    let (report, evidence) = verify::against_store(
        &store,
        input,
        &limits(&ctx.config),
        args.vendor.as_deref(),
        at,
    )
    .map_err(Failure::other)?;
    tracing::info!(
        package = %args.package.display(),
        verdict = report.verdict.as_str(),
        "verified"
    );
    Ok((report, evidence))
}

pub(super) fn run(ctx: &Context, args: &VerifyArgs) -> Outcome {
    let (report, _) = verify_package(ctx, args)?;
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&report).map_err(Failure::other)?;
            print(&format!("{json}\n"))?;
        }
        Format::Text => print(&render_text(&report, &args.package.display().to_string()))?,
    }
    Ok(match report.verdict {
        Verdict::Trusted => exit::OK,
        Verdict::Invalid => exit::FAILURE,
        Verdict::UnknownSigner => exit::UNKNOWN_SIGNER,
        Verdict::Pending => exit::PENDING,
    })
}

fn fmt_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Text for a person: the verdict first, then why, then the chain.
pub(crate) fn render_text(r: &Report, package: &str) -> String {
    let mut s = String::new();
    let w = &mut s;
    let headline = match r.verdict {
        Verdict::Trusted => "TRUSTED: signed by a key that chains to an approved anchor",
        Verdict::Pending => "PENDING: signed under a candidate anchor nobody has approved yet",
        Verdict::UnknownSigner => {
            "UNKNOWN SIGNER: the signature is good but no stored anchor vouches for the key"
        }
        Verdict::Invalid => "INVALID: do not install this package",
    };
    let _ = writeln!(w, "{headline}");
    let _ = writeln!(w, "package: {package}");
    let _ = writeln!(w, "\nwhy:");
    for reason in &r.reasons {
        let _ = writeln!(w, "  - {reason}");
    }
    if let Some(sig) = &r.signer {
        let _ = writeln!(w, "\nsigner:");
        let _ = writeln!(w, "  subject:     {}", sig.subject);
        let _ = writeln!(w, "  issuer:      {}", sig.issuer);
        let _ = writeln!(w, "  serial:      {}", sig.serial);
        let _ = writeln!(w, "  sha256:      {}", sig.sha256);
        let _ = writeln!(w, "  spki sha256: {}", sig.spki_sha256);
        let _ = writeln!(
            w,
            "  valid:       {} to {}",
            fmt_time(sig.not_before),
            fmt_time(sig.not_after)
        );
    }
    if !r.chain.is_empty() {
        let _ = writeln!(w, "\nchain (signer first):");
        for (i, link) in r.chain.iter().enumerate() {
            let _ = writeln!(w, "  {}. {}", i + 1, link.subject);
            let _ = writeln!(w, "     sha256 {}", link.sha256);
        }
    }
    if let Some(a) = &r.anchor {
        let _ = writeln!(
            w,
            "\nanchor: {} ({}, vendor {}, from {})",
            a.sha256, a.state, a.vendor, a.source
        );
    }
    if let Some(m) = &r.manifest {
        let _ = writeln!(w, "\nmanifest:");
        if let Some(name) = &m.name {
            let _ = writeln!(
                w,
                "  {} {}",
                name,
                m.version.as_deref().unwrap_or("(no version)")
            );
        }
        if let Some(reboot) = &m.reboot {
            let _ = writeln!(w, "  reboot: {reboot}");
        }
        for n in &m.notices {
            let _ = writeln!(w, "  ! {n}");
        }
    }
    let bad: Vec<_> = r
        .files
        .iter()
        .filter(|f| f.status != crate::package::FileStatus::Ok)
        .collect();
    if !r.files.is_empty() {
        let _ = writeln!(
            w,
            "\nfiles: {} checked, {} not ok",
            r.files.len(),
            bad.len()
        );
        for f in bad {
            let _ = writeln!(w, "  {:?}: {}", f.status, f.path);
        }
    }
    if !r.advisories.is_empty() {
        let _ = writeln!(w, "\nadvisories:");
        for a in &r.advisories {
            let when = a.published.map_or_else(|| "undated".into(), fmt_time);
            let _ = writeln!(w, "  - [{}] {} ({when})\n    {}", a.vendor, a.title, a.url);
        }
    }
    if matches!(r.verdict, Verdict::Pending | Verdict::UnknownSigner) {
        let _ = writeln!(
            w,
            "\nnext: trustwatch escalate {package} > escalate.sh, then confirm the fingerprint with the vendor"
        );
    }
    s
}
