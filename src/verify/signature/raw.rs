//! Raw signatures (`openssl dgst -sha256 -sign`, `openssl pkeyutl -sign -rawin` for
//! Ed25519): bare signature bytes with no algorithm identifier and no certificate.
//!
//! The scheme is found by trying, for each certificate the package carries (non-CA
//! ones first), the schemes its key type allows: RSA PKCS#1 v1.5 and PSS (salt = hash
//! length, or the maximum, OpenSSL's two usual choices) with SHA-256/384/512, ECDSA
//! with SHA-256/384/512, pure Ed25519. This does not weaken anything: every candidate
//! is a full-strength scheme bound to the same public key, no weak hash is ever tried,
//! and a forger would have to break one of them for that key. The digests are computed
//! in one streaming pass over the content.

use rustls_pki_types::CertificateDer;

use super::keys::{self, PublicKey, Scheme};
use super::{content_bytes, digest_content, Content, Hash, SignatureCheck, SignatureError};
use crate::trust::cert;

/// Verify a raw signature over `content`; the signer is whichever of `certs` verifies it.
pub fn verify_raw(
    signature: &[u8],
    content: Content<'_>,
    certs: &[CertificateDer<'static>],
) -> SignatureCheck {
    let mut check = SignatureCheck {
        signer: None,
        certificates: Vec::new(),
        outcome: Err(SignatureError::SignerNotFound),
    };
    if certs.is_empty() {
        return check;
    }
    // Leaves first: a CA certificate does not sign packages.
    let mut ordered: Vec<&CertificateDer<'static>> = certs.iter().collect();
    ordered.sort_by_key(|c| cert::inspect(c).map_or(true, |i| i.is_ca));
    check.signer = ordered.first().map(|c| (*c).clone());

    let keys: Vec<(&CertificateDer<'static>, PublicKey)> = ordered
        .iter()
        .filter_map(|c| keys::public_key(c).ok().map(|k| (*c, k)))
        .collect();
    let needs_digests = keys
        .iter()
        .any(|(_, k)| !matches!(k, PublicKey::Ed25519(_)));
    let digests = if needs_digests {
        match digest_content(content, &Hash::ALL) {
            Ok(d) => d,
            Err(e) => {
                check.outcome = Err(e);
                return check;
            }
        }
    } else {
        Vec::new()
    };
    let mut whole: Option<Result<Vec<u8>, SignatureError>> = None;
    let mut last_error = SignatureError::BadSignature;
    for (cert_der, key) in &keys {
        let result = match key {
            PublicKey::Ed25519(_) => {
                let message = whole.get_or_insert_with(|| content_bytes(content));
                match message {
                    Ok(m) => keys::verify_ed25519(key, m, signature).map(|()| "Ed25519".to_owned()),
                    Err(e) => Err(e.clone()),
                }
            }
            _ => try_prehashed(key, &digests, signature),
        };
        match result {
            Ok(name) => {
                check.signer = Some((*cert_der).clone());
                check.outcome = Ok(name);
                return check;
            }
            Err(e @ SignatureError::Unsupported(_)) => last_error = e,
            Err(_) => {}
        }
    }
    check.outcome = Err(last_error);
    check
}

fn try_prehashed(
    key: &PublicKey,
    digests: &[Vec<u8>],
    sig: &[u8],
) -> Result<String, SignatureError> {
    let order: &[Hash] = match key {
        PublicKey::P384(_) => &[Hash::Sha384, Hash::Sha256, Hash::Sha512],
        _ => &Hash::ALL,
    };
    for &hash in order {
        let Some(digest) = Hash::ALL
            .iter()
            .position(|h| *h == hash)
            .and_then(|i| digests.get(i))
        else {
            continue;
        };
        let mut schemes = Vec::new();
        match key.rsa_len() {
            Some(em_len) => {
                schemes.push(Scheme::Pkcs1);
                schemes.push(Scheme::Pss { salt: hash.len() });
                if let Some(max) = em_len.checked_sub(hash.len() + 2) {
                    schemes.push(Scheme::Pss { salt: max });
                }
            }
            None => schemes.push(Scheme::Ecdsa),
        }
        for scheme in schemes {
            if keys::verify_prehash(key, scheme, hash, digest, sig).is_ok() {
                return Ok(keys::describe(key, scheme, hash));
            }
        }
    }
    Err(SignatureError::BadSignature)
}
