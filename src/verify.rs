//! Verification of a package against a trust snapshot (CONTRACT §2): the signature over
//! the manifest, the chain from the signer to a stored anchor, validity at a given time,
//! the code-signing usage, and every file against the manifest.
//!
//! Two steps keep the decision pure: [`gather`] reads the package (the only I/O: the
//! archive is streamed and hashed, nothing is extracted) into [`Evidence`], and
//! [`decide`] turns evidence, a [`TrustSnapshot`] and a time into a [`Report`] without
//! touching the disk or the clock. The caller adds the stored advisories that mention
//! the keys ([`Report::cite`]).

pub mod chain;
mod report;
pub mod signature;

use std::path::Path;

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::package::{self, FileCheck, Limits, SignatureKind};
use crate::trust::{import, AnchorState, TrustSnapshot};

pub use report::{AdvisoryRef, AnchorRef, ChainLink, Report, SignerInfo, Verdict};

use chain::{ChainInput, ChainOutcome};
use signature::{Content, SignatureCheck};

/// What to verify.
#[derive(Debug, Clone, Copy)]
pub enum PackageInput<'a> {
    /// A zip package (manifest, detached signature, certificates inside).
    Zip(&'a Path),
    /// Any file with a detached signature (`.p7s` CMS, or `.sig` raw with `certs`).
    Detached {
        file: &'a Path,
        signature: &'a Path,
        certs: Option<&'a Path>,
    },
}

/// Everything read from a package, before any trust decision.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Problems that make the package invalid whatever the chain says.
    pub problems: Vec<String>,
    /// The signature check, when a signature was found.
    pub signature: Option<SignatureCheck>,
    /// Whether the signature was CMS (`p7s`) or raw (`sig`).
    pub signature_kind: Option<SignatureKind>,
    /// Certificates the package carries (CMS certificates, certs/, chain.pem, --certs).
    pub certificates: Vec<CertificateDer<'static>>,
    pub files: Vec<FileCheck>,
    pub manifest: Option<package::insight::ManifestSummary>,
}

/// Largest signature or certificate file given on the command line.
const MAX_SIDE_FILE: u64 = 16 << 20;

/// Read a package into evidence. Errors that make the package unreadable become
/// problems (an `invalid` verdict), never panics.
pub fn gather(input: PackageInput<'_>, limits: &Limits) -> Evidence {
    let mut ev = Evidence {
        problems: Vec::new(),
        signature: None,
        signature_kind: None,
        certificates: Vec::new(),
        files: Vec::new(),
        manifest: None,
    };
    match input {
        PackageInput::Zip(path) => gather_zip(&mut ev, path, limits),
        PackageInput::Detached {
            file,
            signature,
            certs,
        } => gather_detached(&mut ev, file, signature, certs),
    }
    ev
}

fn gather_zip(ev: &mut Evidence, path: &Path, limits: &Limits) {
    let pkg = match package::read_zip(path, limits) {
        Ok(pkg) => pkg,
        Err(e) => {
            ev.problems.push(e.to_string());
            return;
        }
    };
    ev.manifest = Some(package::insight::summarize(&pkg.manifest));
    ev.files = pkg.files;
    for (name, bytes) in &pkg.cert_files {
        match import::parse_certificates(bytes) {
            Ok(certs) => ev.certificates.extend(certs),
            Err(e) => ev.problems.push(format!("certificate file {name}: {e}")),
        }
    }
    let Some(sig) = pkg.signature else {
        ev.problems.push(format!(
            "no signature found for {m}: expected {m}.p7s (CMS) or {m}.sig (raw)",
            m = pkg.manifest_path
        ));
        return;
    };
    let content = Content::Bytes(&pkg.manifest_bytes);
    let check = match sig.kind {
        SignatureKind::Cms => signature::verify_cms(&sig.bytes, content, &ev.certificates),
        SignatureKind::Raw => signature::verify_raw(&sig.bytes, content, &ev.certificates),
    };
    ev.signature_kind = Some(sig.kind);
    ev.signature = Some(check);
}

fn gather_detached(ev: &mut Evidence, file: &Path, sig_path: &Path, certs: Option<&Path>) {
    if let Some(certs) = certs {
        match package::read_file_to_cap(certs, MAX_SIDE_FILE)
            .map_err(|e| e.to_string())
            .and_then(|b| import::parse_certificates(&b).map_err(|e| e.to_string()))
        {
            Ok(found) => ev.certificates.extend(found),
            Err(e) => ev
                .problems
                .push(format!("certificates {}: {e}", certs.display())),
        }
    }
    let sig = match package::read_file_to_cap(sig_path, MAX_SIDE_FILE) {
        Ok(sig) => sig,
        Err(e) => {
            ev.problems.push(e.to_string());
            return;
        }
    };
    let kind = signature_kind_for(sig_path);
    let content = Content::File(file);
    let check = match kind {
        SignatureKind::Cms => signature::verify_cms(&sig, content, &ev.certificates),
        SignatureKind::Raw => {
            if ev.certificates.is_empty() {
                ev.problems.push(
                    "a raw signature carries no certificate: give the signer's with --certs FILE.pem"
                        .into(),
                );
            }
            signature::verify_raw(&sig, content, &ev.certificates)
        }
    };
    ev.signature_kind = Some(kind);
    ev.signature = Some(check);
}

/// `.sig` is a raw signature; anything else (`.p7s`, `.p7m`, `.cms`, `.pem`) is CMS.
fn signature_kind_for(path: &Path) -> SignatureKind {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("sig") => SignatureKind::Raw,
        _ => SignatureKind::Cms,
    }
}

/// Decide the verdict. Pure: the same evidence, snapshot and time give the same report.
///
/// `vendor` restricts the anchors that may vouch for the package to that vendor's;
/// revoked anchors of every vendor still count against it.
pub fn decide(
    evidence: &Evidence,
    snapshot: &TrustSnapshot,
    vendor: Option<&str>,
    at: UnixTime,
) -> Report {
    let mut report = Report::new();
    report.files.clone_from(&evidence.files);
    report.manifest.clone_from(&evidence.manifest);
    let mut invalid: Vec<String> = evidence.problems.clone();

    // The signature (CONTRACT §3): a package without a verified signature is invalid.
    let mut pool: Vec<CertificateDer<'static>> = evidence.certificates.clone();
    let mut signer = None;
    if let Some(check) = &evidence.signature {
        for cert in &check.certificates {
            if !pool.contains(cert) {
                pool.push(cert.clone());
            }
        }
        signer.clone_from(&check.signer);
        match &check.outcome {
            Ok(alg) => report.reasons.push(format!(
                "signature over the manifest verified ({alg}, {})",
                match evidence.signature_kind {
                    Some(SignatureKind::Raw) => "raw signature",
                    _ => "CMS",
                }
            )),
            Err(e) => invalid.push(format!("signature: {e}")),
        }
    }

    // Files against the manifest.
    let bad_files: Vec<&FileCheck> = evidence
        .files
        .iter()
        .filter(|f| f.status != package::FileStatus::Ok)
        .collect();
    for f in &bad_files {
        invalid.push(match f.status {
            package::FileStatus::Mismatch => {
                format!("file {} does not match its manifest hash", f.path)
            }
            package::FileStatus::Missing => {
                format!("file {} is listed in the manifest but missing", f.path)
            }
            _ => format!("file {} is in the package but not in the manifest", f.path),
        });
    }
    if bad_files.is_empty() && !evidence.files.is_empty() {
        report.reasons.push(format!(
            "all {} files match the manifest",
            evidence.files.len()
        ));
    }

    // The chain, whenever a signer is known (so the report can name the anchor).
    let mut chain_verdict = None;
    if let Some(leaf) = &signer {
        report.set_signer(leaf);
        let anchors: Vec<_> = snapshot
            .anchors
            .iter()
            .filter(|a| a.state == AnchorState::Revoked || vendor.is_none_or(|v| a.vendor == v))
            .cloned()
            .collect();
        let others: Vec<_> = pool.iter().filter(|c| *c != leaf).cloned().collect();
        let outcome = chain::build_chain(&ChainInput {
            leaf,
            pool: &others,
            anchors: &anchors,
            at,
        });
        match outcome {
            ChainOutcome::Reached {
                state,
                anchor,
                path,
            } => {
                report.set_chain(&path);
                let stored = anchors.iter().find(|a| a.sha256 == anchor);
                if let Some(stored) = stored {
                    report.anchor = Some(AnchorRef::from(stored));
                }
                let source = stored.map_or("", |a| a.source.as_str());
                match state {
                    AnchorState::Approved => {
                        report.reasons.push(format!(
                            "chain reaches approved anchor {anchor} ({})",
                            stored.map_or("", |a| a.vendor.as_str())
                        ));
                        chain_verdict = Some(Verdict::Trusted);
                    }
                    _ => {
                        report.reasons.push(format!(
                            "chain reaches candidate anchor {anchor}, learnt from {source}, \
                             which no person has approved yet: confirm it with the vendor \
                             (trustwatch escalate {anchor}) before approving it"
                        ));
                        chain_verdict = Some(Verdict::Pending);
                    }
                }
            }
            ChainOutcome::NoAnchor { path } => {
                report.set_chain(&path);
                report.reasons.push(
                    "no stored anchor is reached from the signer's certificate: the key is \
                     unknown; run `trustwatch escalate` on this package and confirm the \
                     fingerprint with the vendor"
                        .into(),
                );
                chain_verdict = Some(Verdict::UnknownSigner);
            }
            ChainOutcome::Invalid { error, path } => {
                report.set_chain(&path);
                invalid.push(format!("chain: {error}"));
            }
        }
    } else if evidence.signature.is_some() {
        invalid.push("no certificate for the signer could be read".into());
    }

    report.verdict = if invalid.is_empty() {
        chain_verdict.unwrap_or(Verdict::Invalid)
    } else {
        Verdict::Invalid
    };
    if report.verdict == Verdict::Invalid {
        if invalid.is_empty() {
            invalid.push("nothing could be verified".into());
        }
        // The reasons that make it invalid come first.
        invalid.append(&mut report.reasons);
        report.reasons = invalid;
    }
    report
}

/// How far the clock may be behind the latest time the store has seen before
/// verification refuses to decide: generous enough for NTP corrections and clocks of
/// two hosts sharing a backup, far below the days an expired certificate needs.
pub const CLOCK_TOLERANCE: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The time a verification is decided at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyTime {
    /// The system clock, as the caller read it: checked against (and remembered as)
    /// the latest time the store has seen ([`CLOCK_TOLERANCE`]).
    Clock(time::OffsetDateTime),
    /// A time the operator chose explicitly (`verify --at`): decided as given, the
    /// remembered clock is neither checked nor moved.
    Chosen(UnixTime),
}

/// Verify a package against the store: gather, decide with the store's anchors, and
/// cite the stored advisories that mention its keys. Used by `trustwatch verify` and
/// by `/verify` in chat, so both give the same report. Reads the whole package (call it
/// off the async threads).
///
/// With [`VerifyTime::Clock`], a clock more than [`CLOCK_TOLERANCE`] behind the latest
/// time the store has seen makes the verdict `invalid`: an expired or revoked-later
/// certificate must not become valid again because the clock was wound back.
pub fn against_store(
    store: &crate::store::Store,
    input: PackageInput<'_>,
    limits: &Limits,
    vendor: Option<&str>,
    when: VerifyTime,
) -> Result<(Report, Evidence), crate::store::Error> {
    let (at, behind) = match when {
        VerifyTime::Chosen(at) => (at, None),
        VerifyTime::Clock(now) => {
            let secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
            let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
            match store.observe_clock(now, CLOCK_TOLERANCE)? {
                crate::store::ClockCheck::Ok => (at, None),
                crate::store::ClockCheck::Behind { latest } => (at, Some((now, latest))),
            }
        }
    };
    let snapshot = store.trust_snapshot()?;
    let evidence = gather(input, limits);
    let mut report = decide(&evidence, &snapshot, vendor, at);
    if let Some((now, latest)) = behind {
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        tracing::error!(clock = %fmt(now), latest_seen = %fmt(latest), "the system clock went backwards: trust not decided");
        report.verdict = Verdict::Invalid;
        report.reasons.insert(
            0,
            format!(
                "the system clock went backwards: it says {}, but this store has already \
                 seen {}; trust is not decided on a clock that went back (an expired or \
                 revoked certificate could look valid): fix the clock (NTP) and verify \
                 again, or pass an explicit time with --at; if the clock is right and \
                 it was the earlier time that was wrong (the clock once ran ahead), \
                 `trustwatch store clock --reset` sets the remembered time back, audited",
                fmt(now),
                fmt(latest)
            ),
        );
    }
    let (fps, names) = report.mentioned_keys();
    report.cite(&store.findings_mentioning(&fps, &names)?);
    Ok((report, evidence))
}
