//! What kind of finding an entry is (CONTRACT §5), by rules a person can read and argue
//! with. Text is lower-cased; "key material" means the entry carries a certificate or a
//! fingerprint, or talks about signing keys, CAs or code-signing certificates.
//!
//! 1. `key_revocation`: key material, a revocation word (revoked, compromised,
//!    distrusted, leaked, "do not trust"), and no announcement of a replacement. A post
//!    that revokes an old key *and* announces a new one is a rotation: a revocation
//!    revokes the fingerprints it names, and the new key's must not be among them.
//! 2. `ca_rotation`: key material and a rotation word (rotate, new root/CA/key,
//!    cross-sign, transition, replaced, "will be signed with", issuance chain, expiry of
//!    a root or cross-sign), unless it is only a TLS/website certificate renewal with
//!    no word about signing software, packages or releases (status pages renew their
//!    certificates all the time and that is not news for package verification).
//! 3. `advisory`: a CVE or GHSA id, or "security advisory", "vulnerability",
//!    "security update", "exploit", "malicious".
//! 4. `deprecation`: a configuration key near a deprecation word, or deprecation of an
//!    option, setting, API or certificate type.
//! 5. Nothing worth reporting otherwise.

use crate::advisory::extract::Extracted;
use crate::advisory::FindingKind;

const KEY_WORDS: [&str; 23] = [
    "signing key",
    "code-signing",
    "code signing",
    "codesigning",
    "release key",
    "gpg key",
    "pgp key",
    "signing certificate",
    "publisher certificate",
    "root ca",
    "root certificate",
    "new root",
    "intermediate ca",
    "intermediate certificate",
    "certificate authority",
    "key fingerprint",
    "cross-sign",
    "cross sign",
    "issuance chain",
    "chain of trust",
    "trust anchor",
    "isrg root",
    "package signing",
];
const ROTATION_WORDS: [&str; 22] = [
    "rotat",
    "new root",
    "new intermediate",
    "new signing",
    "new key",
    "new gpg key",
    "new ca",
    "new certificate",
    "cross-sign",
    "cross sign",
    "transition",
    "replace",
    "changed from",
    "migrat",
    "will be signed with",
    "now signed with",
    "signed by the new",
    "issuance chain",
    "hierarchy",
    "expir",
    "key change",
    "switch",
];
const REVOCATION_WORDS: [&str; 8] = [
    "revok",
    "revocation",
    "compromis",
    "distrust",
    "no longer trusted",
    "do not trust",
    "leaked",
    "stolen",
];
const REPLACEMENT_WORDS: [&str; 7] = [
    "new key",
    "new root",
    "new signing",
    "new ca",
    "replaced by",
    "will be signed with",
    "new certificate",
];
const TLS_WORDS: [&str; 7] = [
    "tls certificate",
    "ssl certificate",
    "https certificate",
    "website certificate",
    "status page",
    "web server certificate",
    "certificate renewal",
];
const ADVISORY_WORDS: [&str; 7] = [
    "security advisory",
    "vulnerab",
    "security update",
    "security fix",
    "exploit",
    "malicious",
    "ghsa-",
];
const DEPRECATION_TARGETS: [&str; 7] = [
    "option",
    "setting",
    "config",
    "parameter",
    "api",
    "certificate",
    "algorithm",
];

fn any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

/// Classify an entry; `None` when it is nothing worth reporting.
pub fn classify(title: &str, text: &str, ex: &Extracted) -> Option<FindingKind> {
    let t = format!("{title}\n{text}").to_lowercase();
    let key_material = !ex.certificates.is_empty()
        || !ex.sha256.is_empty()
        || !ex.sha1.is_empty()
        || any(&t, &KEY_WORDS);
    let tls_only = any(&t, &TLS_WORDS)
        && !any(&t, &KEY_WORDS)
        && !any(
            &t,
            &["package", "release", "firmware", "code sign", "signing key"],
        );
    if key_material && !tls_only {
        let revokes = any(&t, &REVOCATION_WORDS);
        if revokes && !any(&t, &REPLACEMENT_WORDS) {
            return Some(FindingKind::KeyRevocation);
        }
        if revokes || any(&t, &ROTATION_WORDS) {
            return Some(FindingKind::CaRotation);
        }
    }
    if !ex.cves.is_empty() || any(&t, &ADVISORY_WORDS) {
        return Some(FindingKind::Advisory);
    }
    let deprecates =
        t.contains("deprecat") || t.contains("removed") || t.contains("no longer supported");
    if !ex.config_keys.is_empty() || (deprecates && any(&t, &DEPRECATION_TARGETS)) {
        return Some(FindingKind::Deprecation);
    }
    None
}
