//! Who may move an anchor between states, and how (CONTRACT §1, §5).
//!
//! Pure functions: given the stored anchor (if any) and a request, decide the new anchor
//! and its audit entry, or refuse. `store::Store::apply` writes the decision atomically.
//!
//! Rules:
//! - `trust add` by an operator may create an anchor `approved` or `candidate`; adding
//!   over an existing anchor never downgrades it, and never revives a revoked one (that
//!   takes an explicit `trust approve`).
//! - Learnt anchors (from advisories) are only ever created as `candidate`.
//! - `approve` moves a candidate or revoked anchor to `approved`; `revoke` moves any
//!   anchor to `revoked`. Both need a person's name and are audited.

use time::OffsetDateTime;

use super::{Anchor, AnchorState, AuditAction, AuditDraft, Fingerprint};

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    #[error("no anchor {0} in the store: list anchors with `trustwatch trust list`")]
    UnknownAnchor(Fingerprint),
    #[error("anchor {fingerprint} is already {state}")]
    AlreadyInState {
        fingerprint: Fingerprint,
        state: AnchorState,
    },
    #[error("anchor {fingerprint} was revoked{}; if that was a mistake, approve it explicitly with `trustwatch trust approve {fingerprint} --by NAME`", .reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Revoked {
        fingerprint: Fingerprint,
        reason: Option<String>,
    },
    #[error("anchor {fingerprint} belongs to vendor {stored:?}, not {requested:?}")]
    VendorMismatch {
        fingerprint: Fingerprint,
        stored: String,
        requested: String,
    },
    #[error("an approval needs the name of the person approving (--by)")]
    NoApprover,
}

/// A decided change: write `new` (replacing `previous`) with `audit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub previous: Option<Anchor>,
    pub new: Anchor,
    pub audit: AuditDraft,
}

/// An operator adds an anchor (`trust add`). `proposed` carries the certificate data,
/// vendor, state (approved or candidate) and source.
///
/// Returns `Ok(None)` when nothing would change (the anchor is already there in the
/// same or a stronger state).
pub fn plan_add(
    existing: Option<&Anchor>,
    proposed: Anchor,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Option<Change>, ApprovalError> {
    let audit = |action| AuditDraft {
        at: now,
        actor: actor.to_owned(),
        action,
        reason: None,
        source: Some(proposed.source.clone()),
    };
    let Some(existing) = existing else {
        let draft = audit(AuditAction::Added);
        return Ok(Some(Change {
            previous: None,
            new: proposed,
            audit: draft,
        }));
    };
    if existing.vendor != proposed.vendor {
        return Err(ApprovalError::VendorMismatch {
            fingerprint: existing.sha256,
            stored: existing.vendor.clone(),
            requested: proposed.vendor,
        });
    }
    if existing.state == AnchorState::Revoked {
        return Err(ApprovalError::Revoked {
            fingerprint: existing.sha256,
            reason: existing.revoked_reason.clone(),
        });
    }
    // Fill in a certificate that was known by fingerprint alone, and upgrade a
    // candidate to approved when the operator adds it as approved. Never downgrade.
    let mut new = existing.clone();
    let mut changed = false;
    if new.cert_der.is_none() && proposed.cert_der.is_some() {
        new.cert_der = proposed.cert_der.clone();
        new.subject = proposed.subject.clone();
        new.not_after = proposed.not_after;
        changed = true;
    }
    let upgrade =
        existing.state == AnchorState::Candidate && proposed.state == AnchorState::Approved;
    if upgrade {
        new.state = AnchorState::Approved;
        changed = true;
    }
    if !changed {
        return Ok(None);
    }
    new.updated = now;
    let action = if upgrade {
        AuditAction::Approved
    } else {
        AuditAction::Added
    };
    Ok(Some(Change {
        previous: Some(existing.clone()),
        new,
        audit: audit(action),
    }))
}

/// A person approves an anchor (`trust approve`, or an approver in chat).
pub fn plan_approve(
    existing: Option<&Anchor>,
    sha256: Fingerprint,
    by: &str,
    now: OffsetDateTime,
) -> Result<Change, ApprovalError> {
    let existing = existing.ok_or(ApprovalError::UnknownAnchor(sha256))?;
    if by.trim().is_empty() {
        return Err(ApprovalError::NoApprover);
    }
    if existing.state == AnchorState::Approved {
        return Err(ApprovalError::AlreadyInState {
            fingerprint: sha256,
            state: AnchorState::Approved,
        });
    }
    let mut new = existing.clone();
    new.state = AnchorState::Approved;
    new.revoked_reason = None;
    new.updated = now;
    Ok(Change {
        previous: Some(existing.clone()),
        new,
        audit: AuditDraft {
            at: now,
            actor: by.to_owned(),
            action: AuditAction::Approved,
            reason: None,
            source: None,
        },
    })
}

/// A person revokes an anchor (`trust revoke`).
pub fn plan_revoke(
    existing: Option<&Anchor>,
    sha256: Fingerprint,
    by: &str,
    reason: Option<&str>,
    now: OffsetDateTime,
) -> Result<Change, ApprovalError> {
    let existing = existing.ok_or(ApprovalError::UnknownAnchor(sha256))?;
    if existing.state == AnchorState::Revoked {
        return Err(ApprovalError::AlreadyInState {
            fingerprint: sha256,
            state: AnchorState::Revoked,
        });
    }
    let mut new = existing.clone();
    new.state = AnchorState::Revoked;
    new.revoked_reason = reason.map(str::to_owned);
    new.updated = now;
    Ok(Change {
        previous: Some(existing.clone()),
        new,
        audit: AuditDraft {
            at: now,
            actor: by.to_owned(),
            action: AuditAction::Revoked,
            reason: reason.map(str::to_owned),
            source: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(state: AnchorState) -> Anchor {
        let now = OffsetDateTime::UNIX_EPOCH;
        Anchor {
            sha256: Fingerprint::of(b"cert"),
            vendor: "dten".into(),
            state,
            source: "advisory".into(),
            first_seen: now,
            updated: now,
            cert_der: None,
            subject: None,
            not_after: None,
            revoked_reason: None,
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(1)
    }

    #[test]
    fn add_new_anchor_is_audited_as_added() {
        let change = plan_add(None, anchor(AnchorState::Approved), "cli", now())
            .unwrap()
            .unwrap();
        assert_eq!(change.new.state, AnchorState::Approved);
        assert_eq!(change.audit.action, AuditAction::Added);
        assert!(change.previous.is_none());
    }

    #[test]
    fn add_never_downgrades_and_never_revives() {
        let approved = anchor(AnchorState::Approved);
        assert_eq!(
            plan_add(
                Some(&approved),
                anchor(AnchorState::Candidate),
                "cli",
                now()
            )
            .unwrap(),
            None
        );
        let mut revoked = anchor(AnchorState::Revoked);
        revoked.revoked_reason = Some("key leaked".into());
        let err = plan_add(Some(&revoked), anchor(AnchorState::Approved), "cli", now());
        assert!(matches!(err, Err(ApprovalError::Revoked { .. })));
    }

    #[test]
    fn add_upgrades_candidate_and_fills_certificate() {
        let candidate = anchor(AnchorState::Candidate);
        let mut proposed = anchor(AnchorState::Approved);
        proposed.cert_der = Some(vec![1, 2, 3]);
        let change = plan_add(Some(&candidate), proposed, "ops", now())
            .unwrap()
            .unwrap();
        assert_eq!(change.new.state, AnchorState::Approved);
        assert_eq!(change.new.cert_der, Some(vec![1, 2, 3]));
        assert_eq!(change.audit.action, AuditAction::Approved);
        assert_eq!(change.new.first_seen, candidate.first_seen);
    }

    #[test]
    fn add_for_another_vendor_is_refused() {
        let mut other = anchor(AnchorState::Approved);
        other.vendor = "acme".into();
        let err = plan_add(Some(&anchor(AnchorState::Candidate)), other, "cli", now());
        assert!(matches!(err, Err(ApprovalError::VendorMismatch { .. })));
    }

    #[test]
    fn approve_and_revoke_rules() {
        let fp = Fingerprint::of(b"cert");
        assert!(matches!(
            plan_approve(None, fp, "alice", now()),
            Err(ApprovalError::UnknownAnchor(_))
        ));
        let candidate = anchor(AnchorState::Candidate);
        assert!(matches!(
            plan_approve(Some(&candidate), fp, "  ", now()),
            Err(ApprovalError::NoApprover)
        ));
        let approved = plan_approve(Some(&candidate), fp, "alice", now()).unwrap();
        assert_eq!(approved.new.state, AnchorState::Approved);
        assert_eq!(approved.audit.actor, "alice");
        let revoked = plan_revoke(Some(&approved.new), fp, "bob", Some("leaked"), now()).unwrap();
        assert_eq!(revoked.new.state, AnchorState::Revoked);
        assert_eq!(revoked.new.revoked_reason.as_deref(), Some("leaked"));
        assert!(matches!(
            plan_revoke(Some(&revoked.new), fp, "bob", None, now()),
            Err(ApprovalError::AlreadyInState { .. })
        ));
        let again = plan_approve(Some(&revoked.new), fp, "carol", now()).unwrap();
        assert_eq!(again.new.state, AnchorState::Approved);
        assert_eq!(again.new.revoked_reason, None);
    }
}
