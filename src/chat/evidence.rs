//! The evidence an approver needs before trusting a new CA, gathered from the store:
//!
//! - **cross-signed**: is the new key (same subject and public key) also certified by an
//!   anchor a person already approved? The signature is checked (x509-parser's `verify`
//!   feature, ring underneath), never inferred from names;
//! - **channels**: on how many of the vendor's channels (told apart by host: the
//!   advisory feed's site, the forum...) was the key announced?
//! - **old key**: is one of the vendor's keys being revoked, or still approved?
//! - **age**: how old is the notice?
//!
//! Evidence informs a person; it never changes an anchor's state.

use std::collections::BTreeSet;

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::advisory::{Finding, FindingKind};
use crate::store::{self, Store};
use crate::trust::{Anchor, AnchorState, Fingerprint};

/// A cross-certificate: `key` is also certified by the approved anchor `by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossSign {
    /// The candidate key that is cross-signed.
    pub key: Fingerprint,
    /// The certificate that carries the cross-signature.
    pub via: Fingerprint,
    /// The approved anchor that signed it.
    pub by: Fingerprint,
    pub by_subject: Option<String>,
}

/// One place a key was announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub channel: String,
    pub title: String,
    pub url: String,
    pub published: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The keys the evidence is about (the rotation's certificates and fingerprints).
    pub keys: Vec<Fingerprint>,
    pub cross_signed: Vec<CrossSign>,
    /// Every stored finding that announces one of the keys, oldest first.
    pub announcements: Vec<Announcement>,
    /// Distinct channels among the announcements.
    pub channels: Vec<String>,
    /// The vendor's revoked anchors and announced revocations.
    pub revocations: Vec<String>,
    /// The vendor's approved anchors that are not among the new keys (the old keys).
    pub still_approved: Vec<String>,
    /// Seconds since the notice was published (None when undated).
    pub age_secs: Option<i64>,
    /// What the store says of each key: `None` when it holds no anchor for it.
    pub states: Vec<(Fingerprint, Option<AnchorState>)>,
}

/// The channel of a URL: its host (`dten.example`, `forum.dten.example`), or
/// `local mirror` for `file://` sources.
pub fn channel_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "file" => "local mirror".to_owned(),
        Ok(u) => u.host_str().unwrap_or("unknown").to_ascii_lowercase(),
        Err(_) => "unknown".to_owned(),
    }
}

/// Whether `cert` is signed by the key of `issuer` (both DER), with names that chain.
/// SHA-1 and MD5 signatures do not count.
fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    let alg = cert.signature_algorithm.algorithm.to_id_string();
    // md5WithRSA, sha1WithRSA, dsa-with-sha1, ecdsa-with-SHA1.
    const WEAK: [&str; 4] = [
        "1.2.840.113549.1.1.4",
        "1.2.840.113549.1.1.5",
        "1.2.840.10040.4.3",
        "1.2.840.10045.4.1",
    ];
    cert.issuer() == issuer.subject()
        && !WEAK.contains(&alg.as_str())
        && cert.verify_signature(Some(issuer.public_key())).is_ok()
}

/// Cross-signs of `keys`: a certificate with a key's subject and public key, signed by
/// an approved anchor (the key itself counts when an approved anchor signed it).
fn cross_signs(keys: &[Fingerprint], anchors: &[Anchor]) -> Vec<CrossSign> {
    let parsed: Vec<(&Anchor, X509Certificate<'_>)> = anchors
        .iter()
        .filter_map(|a| {
            let der = a.cert_der.as_deref()?;
            X509Certificate::from_der(der).ok().map(|(_, c)| (a, c))
        })
        .collect();
    let mut out = Vec::new();
    for key in keys {
        let Some((_, key_cert)) = parsed.iter().find(|(a, _)| &a.sha256 == key) else {
            continue;
        };
        for (via, via_cert) in &parsed {
            let same_key = via_cert.subject() == key_cert.subject()
                && via_cert.public_key().raw == key_cert.public_key().raw;
            if !same_key {
                continue;
            }
            for (by, by_cert) in &parsed {
                if by.state != AnchorState::Approved || by.sha256 == via.sha256 {
                    continue;
                }
                if signed_by(via_cert, by_cert) {
                    out.push(CrossSign {
                        key: *key,
                        via: via.sha256,
                        by: by.sha256,
                        by_subject: by.subject.clone(),
                    });
                }
            }
        }
    }
    out.sort_by_key(|c| (c.key, c.via, c.by));
    out.dedup();
    out
}

fn describe(a: &Anchor) -> String {
    let name = a.subject.clone().unwrap_or_else(|| a.sha256.to_string());
    match (&a.state, &a.revoked_reason) {
        (AnchorState::Revoked, Some(r)) => format!("{name} revoked: {r}"),
        (AnchorState::Revoked, None) => format!("{name} revoked"),
        _ => name,
    }
}

/// Distinct channels among announcements, sorted.
pub fn channels(announcements: &[Announcement]) -> Vec<String> {
    let set: BTreeSet<String> = announcements.iter().map(|a| a.channel.clone()).collect();
    set.into_iter().collect()
}

/// Gather the evidence about `keys` of `vendor`. Pure over what the store holds:
/// `related` are stored findings (rotations announcing the keys, the vendor's
/// revocations); `published` dates the notice the evidence is shown with.
pub fn gather(
    vendor: &str,
    keys: &[Fingerprint],
    published: Option<OffsetDateTime>,
    anchors: &[Anchor],
    related: &[Finding],
    now: OffsetDateTime,
) -> Evidence {
    let mut announcements: Vec<Announcement> = related
        .iter()
        .filter(|f| f.vendor == vendor && f.kind == FindingKind::CaRotation)
        .filter(|f| f.mentions(keys, &[]))
        .map(|f| Announcement {
            channel: channel_of(&f.url),
            title: f.title.clone(),
            url: f.url.clone(),
            published: f.published,
        })
        .collect();
    announcements.sort_by(|a, b| {
        (a.published.is_none(), a.published, &a.url).cmp(&(
            b.published.is_none(),
            b.published,
            &b.url,
        ))
    });
    announcements.dedup_by(|a, b| a.url == b.url && a.title == b.title);
    let vendor_anchors = anchors.iter().filter(|a| a.vendor == vendor);
    let mut revocations: Vec<String> = vendor_anchors
        .clone()
        .filter(|a| a.state == AnchorState::Revoked)
        .map(describe)
        .collect();
    revocations.extend(
        related
            .iter()
            .filter(|f| f.vendor == vendor && f.kind == FindingKind::KeyRevocation)
            .map(|f| format!("announced: {} <{}>", f.title, f.url)),
    );
    revocations.dedup();
    let still_approved = vendor_anchors
        .filter(|a| a.state == AnchorState::Approved && !keys.contains(&a.sha256))
        .map(describe)
        .collect();
    let states = keys
        .iter()
        .map(|k| (*k, anchors.iter().find(|a| &a.sha256 == k).map(|a| a.state)))
        .collect();
    Evidence {
        states,
        cross_signed: cross_signs(keys, anchors),
        keys: keys.to_vec(),
        channels: channels(&announcements),
        announcements,
        revocations,
        still_approved,
        age_secs: published.map(|p| (now - p).whole_seconds()),
    }
}

/// The keys a rotation finding is about: its certificates, then its fingerprints.
pub fn keys_of(finding: &Finding) -> Vec<Fingerprint> {
    let mut keys: Vec<Fingerprint> = Vec::new();
    for k in finding.certificates.iter().chain(&finding.fingerprints) {
        if !keys.contains(k) {
            keys.push(*k);
        }
    }
    keys
}

/// The stored findings evidence draws on: rotations that mention `keys`, and the
/// vendor's announced revocations.
fn related(
    store: &Store,
    vendor: &str,
    keys: &[Fingerprint],
) -> Result<Vec<Finding>, store::Error> {
    let mut related = store.findings_mentioning(keys, &[])?;
    related.extend(
        store
            .findings()?
            .into_iter()
            .filter(|f| f.vendor == vendor && f.kind == FindingKind::KeyRevocation),
    );
    Ok(related)
}

/// The evidence shown with a rotation notice.
pub fn for_finding(
    store: &Store,
    finding: &Finding,
    now: OffsetDateTime,
) -> Result<Evidence, store::Error> {
    let keys = keys_of(finding);
    let mut rel = related(store, &finding.vendor, &keys)?;
    rel.push(finding.clone());
    Ok(gather(
        &finding.vendor,
        &keys,
        finding.published,
        &store.anchors(None)?,
        &rel,
        now,
    ))
}

/// Seconds since the oldest dated announcement.
fn oldest_age(announcements: &[Announcement], now: OffsetDateTime) -> Option<i64> {
    announcements
        .iter()
        .filter_map(|a| a.published)
        .min()
        .map(|p| (now - p).whole_seconds())
}

/// The evidence shown before an approver confirms an anchor: dated by its oldest
/// announcement.
pub fn for_anchor(
    store: &Store,
    anchor: &Anchor,
    now: OffsetDateTime,
) -> Result<Evidence, store::Error> {
    let keys = [anchor.sha256];
    let rel = related(store, &anchor.vendor, &keys)?;
    let mut e = gather(
        &anchor.vendor,
        &keys,
        None,
        &store.anchors(None)?,
        &rel,
        now,
    );
    e.age_secs = oldest_age(&e.announcements, now);
    Ok(e)
}

/// The evidence about one key, stored or not (the key an escalation prompt is about):
/// its anchor's, when the store has it; otherwise dated and attributed by the stored
/// findings that announce it (`vendor` when known).
pub fn for_key(
    store: &Store,
    key: Fingerprint,
    vendor: Option<&str>,
    now: OffsetDateTime,
) -> Result<Evidence, store::Error> {
    if let Some(anchor) = store.anchor(&key)? {
        return for_anchor(store, &anchor, now);
    }
    let keys = [key];
    let announced = store.findings_mentioning(&keys, &[])?;
    let vendor = vendor
        .map(str::to_owned)
        .or_else(|| announced.first().map(|f| f.vendor.clone()))
        .unwrap_or_default();
    let rel = related(store, &vendor, &keys)?;
    let mut e = gather(&vendor, &keys, None, &store.anchors(None)?, &rel, now);
    e.age_secs = oldest_age(&e.announcements, now);
    Ok(e)
}

/// "3 days", "5 hours", "12 minutes", "just now".
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    let (n, unit) = match s {
        0..60 => return "just now".to_owned(),
        60..3_600 => (s / 60, "minute"),
        3_600..86_400 => (s / 3_600, "hour"),
        _ => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

    fn ca(cn: &str) -> (CertificateParams, KeyPair) {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        (p, KeyPair::generate().unwrap())
    }

    fn anchor(der: &[u8], state: AnchorState) -> Anchor {
        let now = OffsetDateTime::UNIX_EPOCH;
        let info = crate::trust::cert::inspect(der).unwrap();
        Anchor {
            sha256: Fingerprint::of(der),
            vendor: "dten".into(),
            state,
            source: "test".into(),
            first_seen: now,
            updated: now,
            cert_der: Some(der.to_vec()),
            subject: Some(info.subject),
            not_after: Some(info.not_after),
            revoked_reason: None,
        }
    }

    fn rotation(url: &str, keys: &[Fingerprint]) -> Finding {
        Finding {
            kind: FindingKind::CaRotation,
            vendor: "dten".into(),
            title: "rotation".into(),
            url: url.into(),
            published: Some(OffsetDateTime::UNIX_EPOCH),
            fingerprints: keys.to_vec(),
            sha1_fingerprints: Vec::new(),
            certificates: Vec::new(),
            cves: Vec::new(),
            config_keys: Vec::new(),
            summary: String::new(),
            names: Vec::new(),
        }
    }

    #[test]
    fn a_cross_signed_new_root_is_seen_and_a_look_alike_is_not() {
        let (old_p, old_k) = ca("DTEN Root 2023");
        let old = old_p.self_signed(&old_k).unwrap();
        let (new_p, new_k) = ca("DTEN Root 2026");
        let new_self = new_p.self_signed(&new_k).unwrap();
        let issuer = rcgen::Issuer::from_params(&old_p, &old_k);
        let cross = new_p.signed_by(&new_k, &issuer).unwrap();
        // Same names, other key: signed by a stranger pretending to be the old root.
        let (fake_p, fake_k) = ca("DTEN Root 2023");
        let fake_issuer = rcgen::Issuer::from_params(&fake_p, &fake_k);
        let forged = new_p.signed_by(&new_k, &fake_issuer).unwrap();

        let new_fp = Fingerprint::of(new_self.der());
        let base = vec![
            anchor(old.der(), AnchorState::Approved),
            anchor(new_self.der(), AnchorState::Candidate),
        ];
        let f = rotation("https://dten.example/n", &[new_fp]);
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(3);
        let ev = |anchors: &[Anchor]| {
            gather(
                "dten",
                &keys_of(&f),
                f.published,
                anchors,
                &[f.clone()],
                now,
            )
        };

        let mut with_cross = base.clone();
        with_cross.push(anchor(cross.der(), AnchorState::Candidate));
        let e = ev(&with_cross);
        assert_eq!(e.cross_signed.len(), 1, "{e:?}");
        assert_eq!(e.cross_signed[0].by, Fingerprint::of(old.der()));
        assert_eq!(e.cross_signed[0].via, Fingerprint::of(cross.der()));
        assert_eq!(e.still_approved.len(), 1);
        assert_eq!(age(e.age_secs.unwrap()), "3 days");

        let mut with_forged = base;
        with_forged.push(anchor(forged.der(), AnchorState::Candidate));
        assert!(ev(&with_forged).cross_signed.is_empty());
    }

    #[test]
    fn channels_are_counted_by_host_and_revocations_listed() {
        let k = Fingerprint::of(b"new key");
        let feed = rotation("https://dten.example/notice", &[k]);
        let forum = rotation("https://forum.dten.example/t/1#post-3", &[k]);
        let forum2 = rotation("https://forum.dten.example/t/1?page=2#post-9", &[k]);
        let other = rotation("https://dten.example/other", &[Fingerprint::of(b"x")]);
        let mut revoke = rotation("https://dten.example/revoked", &[]);
        revoke.kind = FindingKind::KeyRevocation;
        let e = gather(
            "dten",
            &[k],
            feed.published,
            &[],
            &[feed.clone(), forum, forum2, other, revoke],
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(e.channels, vec!["dten.example", "forum.dten.example"]);
        assert_eq!(e.announcements.len(), 3);
        assert_eq!(e.revocations.len(), 1);
        assert!(e.revocations[0].contains("dten.example/revoked"));
        assert_eq!(channel_of("file://config/x.html#p1"), "local mirror");
    }
}
