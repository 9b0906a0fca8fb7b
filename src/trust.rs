//! Trust anchors: what the operator trusts, what was learnt and awaits approval, and what
//! was revoked.
//!
//! This module owns the vocabulary of trust ([`Fingerprint`], [`AnchorState`],
//! [`Anchor`], [`AuditEntry`]), reading certificates out of PEM/DER/PKCS#7 files
//! ([`import`]), inspecting them for display ([`cert`]) and the rules for moving an
//! anchor between states ([`approval`]). It never touches storage: `store` persists what
//! `approval` decides.
//!
//! Invariant: nothing learnt from a feed or forum is ever `Approved`. Only
//! [`approval::plan_approve`] (a person's command) produces an `Approved` state from
//! anything else, and every change carries an audit entry.

pub mod approval;
pub mod cert;
mod fingerprint;
pub mod import;

pub use fingerprint::{Fingerprint, FingerprintError};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where an anchor stands. `Candidate` anchors are never trusted: a chain that reaches
/// one gives the `pending` verdict until a person approves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnchorState {
    Approved,
    Candidate,
    Revoked,
}

impl AnchorState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Candidate => "candidate",
            Self::Revoked => "revoked",
        }
    }
}

impl std::fmt::Display for AnchorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AnchorState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "approved" => Ok(Self::Approved),
            "candidate" => Ok(Self::Candidate),
            "revoked" => Ok(Self::Revoked),
            other => Err(format!(
                "unknown anchor state {other:?}: expected approved, candidate or revoked"
            )),
        }
    }
}

/// A trust anchor for one vendor, keyed by the SHA-256 of its DER certificate.
///
/// An anchor may be known by fingerprint alone (`cert_der` is `None`), as when an
/// advisory announces a fingerprint without the certificate: a certificate inside a
/// package whose SHA-256 equals `sha256` then reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub sha256: Fingerprint,
    pub vendor: String,
    pub state: AnchorState,
    /// Free text: a file name, an advisory URL, "cli".
    pub source: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    /// The certificate, DER, when known.
    #[serde(default, with = "opt_hex", skip_serializing_if = "Option::is_none")]
    pub cert_der: Option<Vec<u8>>,
    /// Display subject of the certificate, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_after: Option<OffsetDateTime>,
    /// Why it was revoked, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
}

/// What changed, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Added,
    Approved,
    Revoked,
    Imported,
    /// `store clock --reset`: the store's remembered clock was set back to the clock.
    ClockReset,
}

/// One append-only audit record: who changed which anchor (or, for `clock_reset`, the
/// store's remembered clock), when, why, from where.
///
/// Anchor entries always carry `sha256`, `vendor` and `to_state`, and serialize as they
/// did before `clock_reset` existed; a `clock_reset` entry carries `clock_from` and
/// `clock_to` instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Monotonic sequence number assigned by the store.
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: AuditAction,
    /// The anchor changed; `None` for a change of the store itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Fingerprint>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vendor: String,
    pub from_state: Option<AnchorState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_state: Option<AnchorState>,
    pub reason: Option<String>,
    pub source: Option<String>,
    /// `clock_reset`: the remembered time before the reset.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub clock_from: Option<OffsetDateTime>,
    /// `clock_reset`: the remembered time after it (the clock when it was reset).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub clock_to: Option<OffsetDateTime>,
}

/// An audit record before the store numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: AuditAction,
    pub reason: Option<String>,
    pub source: Option<String>,
}

/// Every anchor at one moment, as the verifier sees them.
#[derive(Debug, Clone, Default)]
pub struct TrustSnapshot {
    pub anchors: Vec<Anchor>,
}

mod opt_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub(super) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_some(&hex::encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        v.map(|h| hex::decode(h).map_err(serde::de::Error::custom))
            .transpose()
    }
}
