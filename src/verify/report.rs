//! The verification report: the JSON object of CONTRACT §2 and what the text output
//! prints from it.

use rustls_pki_types::CertificateDer;
use serde::Serialize;
use time::OffsetDateTime;

use crate::advisory::Finding;
use crate::package::insight::ManifestSummary;
use crate::package::FileCheck;
use crate::trust::{cert, Anchor, AnchorState, Fingerprint};

/// The four verdicts of CONTRACT §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Trusted,
    Pending,
    UnknownSigner,
    Invalid,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::Pending => "pending",
            Self::UnknownSigner => "unknown_signer",
            Self::Invalid => "invalid",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignerInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub sha256: Fingerprint,
    pub spki_sha256: Fingerprint,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainLink {
    pub subject: String,
    pub sha256: Fingerprint,
    /// Issuer name, kept for advisory lookups (not part of the contract's JSON).
    #[serde(skip)]
    pub issuer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorRef {
    pub sha256: Fingerprint,
    pub vendor: String,
    pub state: AnchorState,
    pub source: String,
}

impl From<&Anchor> for AnchorRef {
    fn from(a: &Anchor) -> Self {
        Self {
            sha256: a.sha256,
            vendor: a.vendor.clone(),
            state: a.state,
            source: a.source.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvisoryRef {
    pub vendor: String,
    pub title: String,
    pub url: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
}

impl From<&Finding> for AdvisoryRef {
    fn from(f: &Finding) -> Self {
        Self {
            vendor: f.vendor.clone(),
            title: f.title.clone(),
            url: f.url.clone(),
            published: f.published,
        }
    }
}

/// CONTRACT §2's JSON object. Field order is the contract's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub signer: Option<SignerInfo>,
    pub chain: Vec<ChainLink>,
    pub anchor: Option<AnchorRef>,
    pub files: Vec<FileCheck>,
    pub manifest: Option<ManifestSummary>,
    pub advisories: Vec<AdvisoryRef>,
}

impl Report {
    pub(crate) fn new() -> Self {
        Self {
            verdict: Verdict::Invalid,
            reasons: Vec::new(),
            signer: None,
            chain: Vec::new(),
            anchor: None,
            files: Vec::new(),
            manifest: None,
            advisories: Vec::new(),
        }
    }

    pub(crate) fn set_signer(&mut self, leaf: &CertificateDer<'_>) {
        match cert::inspect(leaf) {
            Ok(info) => {
                self.signer = Some(SignerInfo {
                    subject: info.subject,
                    issuer: info.issuer,
                    serial: info.serial,
                    sha256: info.sha256,
                    spki_sha256: info.spki_sha256,
                    not_before: info.not_before,
                    not_after: info.not_after,
                });
            }
            Err(e) => self.reasons.push(format!("signer certificate: {e}")),
        }
    }

    pub(crate) fn set_chain(&mut self, path: &[CertificateDer<'static>]) {
        self.chain = path
            .iter()
            .map(|der| match cert::inspect(der) {
                Ok(info) => ChainLink {
                    subject: info.subject,
                    sha256: info.sha256,
                    issuer: info.issuer,
                },
                Err(_) => ChainLink {
                    subject: "(unreadable certificate)".into(),
                    sha256: Fingerprint::of(der),
                    issuer: String::new(),
                },
            })
            .collect();
    }

    /// Fingerprints and names a stored advisory may mention: the signer's certificate
    /// and SPKI, every certificate on the chain, the anchor, and the issuers' names.
    pub fn mentioned_keys(&self) -> (Vec<Fingerprint>, Vec<String>) {
        let mut fps = Vec::new();
        let mut names = Vec::new();
        if let Some(s) = &self.signer {
            fps.extend([s.sha256, s.spki_sha256]);
            names.push(s.issuer.clone());
        }
        for link in &self.chain {
            fps.push(link.sha256);
            if !link.issuer.is_empty() {
                names.push(link.issuer.clone());
            }
        }
        if let Some(a) = &self.anchor {
            fps.push(a.sha256);
        }
        fps.sort();
        fps.dedup();
        names.sort();
        names.dedup();
        (fps, names)
    }

    /// Attach stored findings that mention the keys, and say so in the reasons.
    pub fn cite(&mut self, findings: &[Finding]) {
        for f in findings {
            let r = AdvisoryRef::from(f);
            if !self.advisories.contains(&r) {
                let when = f
                    .published
                    .and_then(|p| {
                        p.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_else(|| "an undated post".into());
                self.reasons
                    .push(format!("this key was announced in {} on {when}", f.url));
                self.advisories.push(r);
            }
        }
    }
}
