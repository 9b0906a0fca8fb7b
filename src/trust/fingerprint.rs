//! SHA-256 fingerprints as CONTRACT §1 writes them: output is lowercase hex without
//! separators; input accepts upper or lower case, with or without `:` or spaces.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The SHA-256 of a DER certificate (or of anything else we fingerprint).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error(
        "fingerprint {0:?} is not hex: give 64 hex digits, optionally separated by ':' or spaces"
    )]
    NotHex(String),
    #[error("fingerprint {input:?} has {digits} hex digits; a SHA-256 fingerprint has 64")]
    WrongLength { input: String, digits: usize },
}

impl Fingerprint {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// SHA-256 over `data` (a DER certificate, an SPKI...).
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut digits = String::with_capacity(64);
        for c in input.trim().chars() {
            match c {
                ':' | ' ' | '\t' | '-' => {}
                c if c.is_ascii_hexdigit() => digits.push(c.to_ascii_lowercase()),
                _ => return Err(FingerprintError::NotHex(input.to_owned())),
            }
        }
        if digits.len() != 64 {
            return Err(FingerprintError::WrongLength {
                input: input.to_owned(),
                digits: digits.len(),
            });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&digits, &mut out)
            .map_err(|_| FingerprintError::NotHex(input.to_owned()))?;
        Ok(Self(out))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6";

    #[test]
    fn accepts_the_forms_vendors_write() {
        let plain: Fingerprint = HEX.parse().unwrap();
        let upper_colons = HEX
            .to_ascii_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(upper_colons.parse::<Fingerprint>().unwrap(), plain);
        let spaced = upper_colons.replace(':', " ");
        assert_eq!(spaced.parse::<Fingerprint>().unwrap(), plain);
        assert_eq!(plain.to_string(), HEX);
    }

    #[test]
    fn rejects_wrong_length_and_non_hex() {
        assert!(matches!(
            "abcd".parse::<Fingerprint>(),
            Err(FingerprintError::WrongLength { digits: 4, .. })
        ));
        let bad = format!("{}zz", &HEX[..62]);
        assert!(matches!(
            bad.parse::<Fingerprint>(),
            Err(FingerprintError::NotHex(_))
        ));
    }

    #[test]
    fn serde_round_trip_is_lowercase_hex() {
        let fp: Fingerprint = HEX.to_ascii_uppercase().parse().unwrap();
        let json = serde_json::to_string(&fp).unwrap();
        assert_eq!(json, format!("\"{HEX}\""));
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), fp);
    }
}
