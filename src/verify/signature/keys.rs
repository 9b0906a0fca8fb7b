//! Public keys from certificates, and verification of one signature with one key under
//! one scheme. RustCrypto crates: `rsa` (PKCS#1 v1.5 and PSS with any declared salt,
//! over a prehash), `p256`/`p384` (ECDSA over a prehash), `ed25519-dalek` (strict
//! Ed25519 verification).

use der::Decode;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};
use signature::hazmat::PrehashVerifier;
use x509_cert::Certificate;

use super::{Hash, SignatureError};

/// Smallest and largest RSA modulus we accept (webpki's range for chains too).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256_CURVE: &str = "1.2.840.10045.3.1.7";
const P384_CURVE: &str = "1.3.132.0.34";
const ED25519: &str = "1.3.101.112";

pub(crate) enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Rsa(_) => "RSA",
            Self::P256(_) => "ECDSA P-256",
            Self::P384(_) => "ECDSA P-384",
            Self::Ed25519(_) => "Ed25519",
        }
    }

    /// The RSA modulus length in bytes (for PSS's maximum salt).
    pub(crate) fn rsa_len(&self) -> Option<usize> {
        match self {
            Self::Rsa(k) => Some(k.n().bits().div_ceil(8)),
            _ => None,
        }
    }
}

/// How a signature was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Pkcs1,
    Pss { salt: usize },
    Ecdsa,
    Ed25519,
}

/// The subject public key of a DER certificate.
pub(crate) fn public_key(cert_der: &[u8]) -> Result<PublicKey, SignatureError> {
    let cert = Certificate::from_der(cert_der)
        .map_err(|e| SignatureError::Malformed(format!("signer certificate: {e}")))?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bits = spki.subject_public_key.raw_bytes();
    let alg = spki.algorithm.oid.to_string();
    match alg.as_str() {
        RSA_ENCRYPTION | RSASSA_PSS => {
            let k = rsa::pkcs1::RsaPublicKey::from_der(bits)
                .map_err(|e| SignatureError::Malformed(format!("RSA public key: {e}")))?;
            let n = BigUint::from_bytes_be(k.modulus.as_bytes());
            let e = BigUint::from_bytes_be(k.public_exponent.as_bytes());
            if n.bits() < RSA_MIN_BITS {
                return Err(SignatureError::Unsupported(format!(
                    "RSA key of {} bits (at least {RSA_MIN_BITS} are required)",
                    n.bits()
                )));
            }
            RsaPublicKey::new_with_max_size(n, e, RSA_MAX_BITS)
                .map(PublicKey::Rsa)
                .map_err(|e| SignatureError::Unsupported(format!("RSA key: {e}")))
        }
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|o| o.to_string());
            match curve.as_deref() {
                Some(P256_CURVE) => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P256)
                    .map_err(|_| SignatureError::Malformed("bad P-256 public key".into())),
                Some(P384_CURVE) => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P384)
                    .map_err(|_| SignatureError::Malformed("bad P-384 public key".into())),
                other => Err(SignatureError::Unsupported(format!(
                    "elliptic curve {}",
                    other.unwrap_or("(none named)")
                ))),
            }
        }
        ED25519 => {
            let raw: [u8; 32] = bits
                .try_into()
                .map_err(|_| SignatureError::Malformed("Ed25519 key is not 32 bytes".into()))?;
            ed25519_dalek::VerifyingKey::from_bytes(&raw)
                .map(PublicKey::Ed25519)
                .map_err(|_| SignatureError::Malformed("bad Ed25519 public key".into()))
        }
        other => Err(SignatureError::Unsupported(format!(
            "public key algorithm {other}"
        ))),
    }
}

/// Verify `sig` over a message whose `hash` digest is `prehash` (RSA, ECDSA).
pub(crate) fn verify_prehash(
    key: &PublicKey,
    scheme: Scheme,
    hash: Hash,
    prehash: &[u8],
    sig: &[u8],
) -> Result<(), SignatureError> {
    match (key, scheme) {
        (PublicKey::Rsa(k), Scheme::Pkcs1) => {
            let padding = match hash {
                Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
                Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
                Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
            };
            k.verify(padding, prehash, sig)
                .map_err(|_| SignatureError::BadSignature)
        }
        (PublicKey::Rsa(k), Scheme::Pss { salt }) => {
            let padding = match hash {
                Hash::Sha256 => rsa::Pss::new_with_salt::<Sha256>(salt),
                Hash::Sha384 => rsa::Pss::new_with_salt::<Sha384>(salt),
                Hash::Sha512 => rsa::Pss::new_with_salt::<Sha512>(salt),
            };
            k.verify(padding, prehash, sig)
                .map_err(|_| SignatureError::BadSignature)
        }
        (PublicKey::P256(k), Scheme::Ecdsa) => {
            let s =
                p256::ecdsa::Signature::from_der(sig).map_err(|_| SignatureError::BadSignature)?;
            k.verify_prehash(prehash, &s)
                .map_err(|_| SignatureError::BadSignature)
        }
        (PublicKey::P384(k), Scheme::Ecdsa) => {
            let s =
                p384::ecdsa::Signature::from_der(sig).map_err(|_| SignatureError::BadSignature)?;
            k.verify_prehash(prehash, &s)
                .map_err(|_| SignatureError::BadSignature)
        }
        (k, s) => Err(SignatureError::Unsupported(format!(
            "{s:?} signatures with a {} key",
            k.name()
        ))),
    }
}

/// Verify a pure Ed25519 signature over `message`.
pub(crate) fn verify_ed25519(
    key: &PublicKey,
    message: &[u8],
    sig: &[u8],
) -> Result<(), SignatureError> {
    let PublicKey::Ed25519(k) = key else {
        return Err(SignatureError::Unsupported(format!(
            "Ed25519 signatures with a {} key",
            key.name()
        )));
    };
    let s = ed25519_dalek::Signature::from_slice(sig).map_err(|_| SignatureError::BadSignature)?;
    k.verify_strict(message, &s)
        .map_err(|_| SignatureError::BadSignature)
}

/// Display name of a scheme with a key and hash.
pub(crate) fn describe(key: &PublicKey, scheme: Scheme, hash: Hash) -> String {
    match scheme {
        Scheme::Pkcs1 => format!("RSA PKCS#1 v1.5 with {}", hash.name()),
        Scheme::Pss { salt } => format!("RSA-PSS with {} (salt {salt})", hash.name()),
        Scheme::Ecdsa => format!("{} with {}", key.name(), hash.name()),
        Scheme::Ed25519 => "Ed25519".into(),
    }
}
