//! Building an [`Escalation`] from what trustwatch knows: a verified package's report
//! and evidence, or a bare fingerprint and the store. Shared by `trustwatch escalate`
//! and the chat commands, so both name the same keys and cite the same advisories.

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use super::{Escalation, Key};
use crate::config::Config;
use crate::store::{self, Store};
use crate::trust::{cert, Anchor, Fingerprint};
use crate::verify::{AdvisoryRef, Evidence, Report};

fn pem_of(der: &[u8]) -> Option<String> {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).ok()
}

/// A key from a certificate; `state` is what the store says of it.
pub fn key_from_der(der: &[u8], state: &str) -> Key {
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
        Err(_) => bare_key(Fingerprint::of(der), state),
    }
}

fn bare_key(sha256: Fingerprint, state: &str) -> Key {
    Key {
        sha256,
        spki_sha256: None,
        subject: None,
        issuer: None,
        not_before: None,
        not_after: None,
        state: state.to_owned(),
        pem: None,
    }
}

/// A key from a stored anchor (its certificate when the store has it).
pub fn key_from_anchor(a: &Anchor) -> Key {
    match &a.cert_der {
        Some(der) => key_from_der(der, a.state.as_str()),
        None => Key {
            subject: a.subject.clone(),
            not_after: a.not_after,
            ..bare_key(a.sha256, a.state.as_str())
        },
    }
}

fn state_of(anchors: &[Anchor], fp: &Fingerprint) -> String {
    anchors
        .iter()
        .find(|a| &a.sha256 == fp)
        .map_or_else(|| "unknown".to_owned(), |a| a.state.to_string())
}

fn empty(vendor: Option<&str>, now: OffsetDateTime) -> Escalation {
    Escalation {
        package: None,
        verdict: None,
        vendor: vendor.map(str::to_owned),
        contact: None,
        advisory_url: None,
        keys: Vec::new(),
        advisories: Vec::new(),
        generated: now,
    }
}

/// Fill in the vendor's contact and advisory page from the config.
fn with_contact(mut e: Escalation, config: &Config) -> Escalation {
    if let Some(v) = e.vendor.as_deref().and_then(|v| config.vendor(v)) {
        e.contact.clone_from(&v.contact);
        e.advisory_url.clone_from(&v.advisory_url);
    }
    e
}

/// The escalation for a verified package: every key on its chain, signer first.
/// `None` when no certificate of the package could be read (nothing to escalate).
pub fn for_package(
    report: &Report,
    evidence: &Evidence,
    anchors: &[Anchor],
    config: &Config,
    vendor: Option<&str>,
    package: &str,
    now: OffsetDateTime,
) -> Option<Escalation> {
    let mut e = empty(vendor, now);
    let mut ders: Vec<CertificateDer<'static>> = evidence.certificates.clone();
    if let Some(sig) = &evidence.signature {
        ders.extend(sig.certificates.iter().cloned());
    }
    for link in &report.chain {
        let der = ders.iter().find(|d| Fingerprint::of(d) == link.sha256);
        let key = match der {
            Some(der) => key_from_der(der, &state_of(anchors, &link.sha256)),
            None => match anchors.iter().find(|a| a.sha256 == link.sha256) {
                Some(a) => key_from_anchor(a),
                None => continue,
            },
        };
        e.keys.push(key);
    }
    if e.keys.is_empty() {
        return None;
    }
    if e.vendor.is_none() {
        e.vendor = report.anchor.as_ref().map(|a| a.vendor.clone());
    }
    e.package = Some(package.to_owned());
    e.verdict = Some(report.verdict.as_str().to_owned());
    e.advisories.clone_from(&report.advisories);
    Some(with_contact(e, config))
}

/// The escalation for one fingerprint: the stored anchor's certificate when known, and
/// every stored advisory that mentions the key or its issuer.
pub fn for_fingerprint(
    store: &Store,
    config: &Config,
    fp: Fingerprint,
    vendor: Option<&str>,
    now: OffsetDateTime,
) -> Result<Escalation, store::Error> {
    let mut e = empty(vendor, now);
    let key = match store.anchor(&fp)? {
        Some(a) => {
            if e.vendor.is_none() {
                e.vendor = Some(a.vendor.clone());
            }
            key_from_anchor(&a)
        }
        None => bare_key(fp, "unknown"),
    };
    let names: Vec<String> = key.issuer.iter().cloned().collect();
    e.advisories = store
        .findings_mentioning(&[fp], &names)?
        .iter()
        .map(AdvisoryRef::from)
        .collect();
    e.keys.push(key);
    Ok(with_contact(e, config))
}
