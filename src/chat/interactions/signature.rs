//! Discord's request signature: Ed25519 over `X-Signature-Timestamp || body`, the
//! signature in `X-Signature-Ed25519` as hex, checked against the application's public
//! key. Discord's scheme has no freshness check, so a replay window is added here.
//!
//! Why ed25519-dalek: it is already in the tree (package signatures, and serenity's own
//! `interactions_endpoint` feature uses it), pure Rust, and its `verify_strict` rejects
//! small-order keys and non-canonical signatures (RFC 8032 §5.1.7 plus the malleability
//! checks), so one body has exactly one accepted signature per key. serenity's
//! `Verifier` is not used because it needs an extra feature and uses the lax `verify`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use ed25519_dalek::{Signature, VerifyingKey};

use super::InteractionsError;

/// Oldest or newest signature timestamp accepted, relative to our clock. Discord sends
/// requests within seconds; five minutes tolerates clock drift while keeping a captured
/// request from being replayed later.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

const SIGNATURE_HEADER: &str = "x-signature-ed25519";
const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// The application's Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parse the key as the developer portal shows it: 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, InteractionsError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| {
            InteractionsError::PublicKey {
                reason: "must be 64 hex characters",
            }
        })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| InteractionsError::PublicKey {
            reason: "is not an Ed25519 public key",
        })?;
        if key.is_weak() {
            return Err(InteractionsError::PublicKey {
                reason: "is a weak (small-order) Ed25519 key that no real application has",
            });
        }
        Ok(Self(key))
    }

    /// Check `signed` over `signed.timestamp || body`.
    pub(super) fn verify(&self, signed: &SignedHeaders, body: &[u8]) -> Result<(), Refused> {
        let mut message = Vec::with_capacity(signed.timestamp.len() + body.len());
        message.extend_from_slice(signed.timestamp.as_bytes());
        message.extend_from_slice(body);
        self.0
            .verify_strict(&message, &signed.signature)
            .map_err(|_| Refused::Mismatch)
    }
}

/// The two signature headers of one request, well-formed and fresh but not yet checked
/// against the body.
pub(super) struct SignedHeaders {
    signature: Signature,
    /// Exactly as sent: the signature covers these bytes, not a re-formatted number.
    timestamp: String,
}

impl SignedHeaders {
    /// Read the headers; `now` is the current Unix time in seconds.
    pub(super) fn from_headers(headers: &HeaderMap, now: i64) -> Result<Self, Refused> {
        let signature = headers
            .get(SIGNATURE_HEADER)
            .ok_or(Refused::Missing(SIGNATURE_HEADER))?;
        let timestamp = headers
            .get(TIMESTAMP_HEADER)
            .ok_or(Refused::Missing(TIMESTAMP_HEADER))?;
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(signature.as_bytes(), &mut bytes).map_err(|_| Refused::BadHex)?;
        let timestamp = timestamp.to_str().map_err(|_| Refused::BadTimestamp)?;
        if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refused::BadTimestamp);
        }
        let at: i64 = timestamp.parse().map_err(|_| Refused::BadTimestamp)?;
        let skew = now.abs_diff(at);
        if skew > MAX_CLOCK_SKEW.as_secs() {
            return Err(Refused::Stale { skew_secs: skew });
        }
        Ok(Self {
            signature: Signature::from_bytes(&bytes),
            timestamp: timestamp.to_owned(),
        })
    }
}

/// Why a request was refused with 401 (for logs; the client only sees the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    Missing(&'static str),
    BadHex,
    BadTimestamp,
    Stale { skew_secs: u64 },
    Mismatch,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(name) => write!(f, "missing header {name}"),
            Self::BadHex => f.write_str("signature header is not 128 hex characters"),
            Self::BadTimestamp => f.write_str("timestamp header is not a Unix time"),
            Self::Stale { skew_secs } => write!(
                f,
                "timestamp is {skew_secs}s away from our clock (limit {}s)",
                MAX_CLOCK_SKEW.as_secs()
            ),
            Self::Mismatch => f.write_str("signature does not match the body"),
        }
    }
}

/// The current Unix time in seconds (0 if the clock is before 1970).
pub(super) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_is_checked() {
        assert!(PublicKey::from_hex("zz").is_err());
        assert!(PublicKey::from_hex(&"00".repeat(32)).is_err(), "weak key");
        // The Ed25519 base point's encoding (RFC 8032) is a valid, non-weak key.
        let base = "5866666666666666666666666666666666666666666666666666666666666666";
        assert!(PublicKey::from_hex(base).is_ok());
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, "00".repeat(64).parse().unwrap());
        headers.insert(TIMESTAMP_HEADER, "1000".parse().unwrap());
        assert!(SignedHeaders::from_headers(&headers, 1000 + 300).is_ok());
        assert!(matches!(
            SignedHeaders::from_headers(&headers, 1000 + 301),
            Err(Refused::Stale { skew_secs: 301 })
        ));
        assert!(matches!(
            SignedHeaders::from_headers(&headers, 1000 - 301),
            Err(Refused::Stale { .. })
        ));
        headers.insert(TIMESTAMP_HEADER, "-5".parse().unwrap());
        assert!(matches!(
            SignedHeaders::from_headers(&headers, 0),
            Err(Refused::BadTimestamp)
        ));
    }
}
