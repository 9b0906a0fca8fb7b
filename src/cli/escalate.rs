//! `trustwatch escalate SHA256|PACKAGE`: print the escalation script (CONTRACT §5).

use std::path::{Path, PathBuf};

use clap::Args;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use super::verify::{verify_package, VerifyArgs};
use super::{exit, print, Context, Failure, Format, Outcome};
use crate::escalation::{self, Escalation, Key};
use crate::trust::{cert, Anchor, Fingerprint};

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

fn pem_of(der: &[u8]) -> Option<String> {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).ok()
}

fn key_from_der(der: &[u8], state: &str) -> Key {
    match cert::inspect(der) {
        Ok(info) => Key {
            sha256: info.sha256,
            spki_sha256: Some(info.spki_sha256),
            subject: Some(info.subject),
            issuer: Some(info.issuer),
            not_before: Some(info.not_before),
            not_after: Some(info.not_after),
            state: state.to_owned(),
            pem: pem_of(der),
        },
        Err(_) => Key {
            sha256: Fingerprint::of(der),
            spki_sha256: None,
            subject: None,
            issuer: None,
            not_before: None,
            not_after: None,
            state: state.to_owned(),
            pem: None,
        },
    }
}

fn state_of(anchors: &[Anchor], fp: &Fingerprint) -> String {
    anchors
        .iter()
        .find(|a| &a.sha256 == fp)
        .map_or_else(|| "unknown".to_owned(), |a| a.state.to_string())
}

pub(super) fn run(ctx: &Context, args: &EscalateArgs) -> Outcome {
    let path = Path::new(&args.target);
    let mut e = Escalation {
        package: None,
        verdict: None,
        vendor: args.vendor.clone(),
        contact: None,
        advisory_url: None,
        keys: Vec::new(),
        advisories: Vec::new(),
        generated: OffsetDateTime::now_utc(),
    };
    if path.is_file() {
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
        let mut ders: Vec<CertificateDer<'static>> = evidence.certificates.clone();
        if let Some(sig) = &evidence.signature {
            ders.extend(sig.certificates.iter().cloned());
        }
        for link in &report.chain {
            let der = ders.iter().find(|d| Fingerprint::of(d) == link.sha256);
            let key = match der {
                Some(der) => key_from_der(der, &state_of(&anchors, &link.sha256)),
                None => match anchors.iter().find(|a| a.sha256 == link.sha256) {
                    Some(a) => key_from_anchor(a),
                    None => continue,
                },
            };
            e.keys.push(key);
        }
        if e.vendor.is_none() {
            e.vendor = report.anchor.as_ref().map(|a| a.vendor.clone());
        }
        e.package = Some(args.target.clone());
        e.verdict = Some(report.verdict.as_str().to_owned());
        e.advisories.clone_from(&report.advisories);
        if e.keys.is_empty() {
            return Err(Failure::usage(anyhow::anyhow!(
                "no signing certificate could be read from {}: {}",
                args.target,
                report.reasons.join("; ")
            )));
        }
    } else {
        let fp: Fingerprint = args.target.parse().map_err(|err| {
            Failure::usage(anyhow::anyhow!(
                "{} is neither an existing package file nor a fingerprint: {err}",
                args.target
            ))
        })?;
        let store = ctx.open_store()?;
        let key = match store.anchor(&fp).map_err(Failure::other)? {
            Some(a) => {
                if e.vendor.is_none() {
                    e.vendor = Some(a.vendor.clone());
                }
                key_from_anchor(&a)
            }
            None => Key {
                sha256: fp,
                spki_sha256: None,
                subject: None,
                issuer: None,
                not_before: None,
                not_after: None,
                state: "unknown".into(),
                pem: None,
            },
        };
        let names: Vec<String> = key.issuer.iter().cloned().collect();
        e.advisories = store
            .findings_mentioning(&[fp], &names)
            .map_err(Failure::other)?
            .iter()
            .map(crate::verify::AdvisoryRef::from)
            .collect();
        e.keys.push(key);
    }
    if let Some(v) = e.vendor.as_deref().and_then(|v| ctx.config.vendor(v)) {
        e.contact.clone_from(&v.contact);
        e.advisory_url.clone_from(&v.advisory_url);
    }
    print(&escalation::render(&e))?;
    Ok(exit::OK)
}

fn key_from_anchor(a: &Anchor) -> Key {
    match &a.cert_der {
        Some(der) => key_from_der(der, a.state.as_str()),
        None => Key {
            sha256: a.sha256,
            spki_sha256: None,
            subject: a.subject.clone(),
            issuer: None,
            not_before: None,
            not_after: a.not_after,
            state: a.state.to_string(),
            pem: None,
        },
    }
}
