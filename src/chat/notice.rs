//! A finding's notice as Discord shows it: the plain rendering every sink shares, plus
//! what an approver needs in the ops channel: for a rotation, the evidence for trusting
//! the new CA and approve/escalate buttons per candidate key (only approvers may use
//! them: the dispatcher checks on every press); for rotations and revocations, a ping
//! of the approver role.

use super::evidence::Evidence;
use super::render::{decision_buttons, evidence_fields};
use super::Message;
use crate::advisory::{Finding, FindingKind};
use crate::trust::Fingerprint;

/// Most keys that get buttons (two buttons each, five per row).
const MAX_KEYS_WITH_BUTTONS: usize = 2;

/// Decorate `base` (the shared rendering of `finding`) for Discord.
pub fn decorate(
    mut base: Message,
    finding: &Finding,
    evidence: Option<&Evidence>,
    approver_role: u64,
) -> Message {
    match finding.kind {
        FindingKind::CaRotation => {
            // Evidence is about keys: a rotation post that names none has none to show.
            if let (Some(ev), Some(embed)) = (
                evidence.filter(|e| !e.keys.is_empty()),
                base.embeds.first_mut(),
            ) {
                embed.fields.extend(evidence_fields(ev));
            }
            let keys: Vec<Fingerprint> =
                evidence.map_or_else(|| super::evidence::keys_of(finding), |e| e.keys.clone());
            base.buttons = keys
                .iter()
                .take(MAX_KEYS_WITH_BUTTONS)
                .flat_map(decision_buttons)
                .collect();
            if !keys.is_empty() {
                base.content = format!(
                    "<@&{approver_role}> {} announced a new signing key: check the evidence before approving.",
                    super::render::plain(&finding.vendor)
                );
                base.mention_role = Some(approver_role);
            }
        }
        FindingKind::KeyRevocation => {
            base.content = format!(
                "<@&{approver_role}> {} announced a key revocation.",
                super::render::plain(&finding.vendor)
            );
            base.mention_role = Some(approver_role);
        }
        _ => {}
    }
    base.fit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Embed;

    fn finding(kind: FindingKind, keys: usize) -> Finding {
        Finding {
            kind,
            vendor: "dten".into(),
            title: "t".into(),
            url: "https://dten.example/n".into(),
            published: None,
            fingerprints: (0..keys).map(|i| Fingerprint::of(&[i as u8])).collect(),
            sha1_fingerprints: Vec::new(),
            certificates: Vec::new(),
            cves: Vec::new(),
            config_keys: Vec::new(),
            summary: String::new(),
            names: Vec::new(),
        }
    }

    fn base() -> Message {
        Message {
            embeds: vec![Embed::default()],
            ..Message::default()
        }
    }

    #[test]
    fn rotations_get_buttons_evidence_and_a_ping_advisories_do_not() {
        let f = finding(FindingKind::CaRotation, 3);
        let ev = Evidence {
            keys: f.fingerprints.clone(),
            ..Evidence::default()
        };
        let m = decorate(base(), &f, Some(&ev), 42);
        assert_eq!(m.buttons.len(), 4, "two keys, approve and escalate each");
        assert!(m.buttons[0].custom_id.starts_with("approve:"));
        assert!(m.embeds[0]
            .fields
            .iter()
            .any(|x| x.name.contains("cross-signed")));
        assert_eq!(m.mention_role, Some(42));
        assert!(m.content.starts_with("<@&42>"));

        let a = decorate(base(), &finding(FindingKind::Advisory, 1), None, 42);
        assert!(a.buttons.is_empty() && a.mention_role.is_none() && a.content.is_empty());
        let r = decorate(base(), &finding(FindingKind::KeyRevocation, 1), None, 42);
        assert!(r.buttons.is_empty());
        assert_eq!(r.mention_role, Some(42));
    }
}
