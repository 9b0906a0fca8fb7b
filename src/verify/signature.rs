//! Signature checks over the manifest (or a detached file): CMS/PKCS#7 SignedData as
//! `openssl cms -sign -binary` writes it (DER or PEM) and raw signatures as
//! `openssl dgst -sign` / `openssl pkeyutl -sign -rawin` write them (CONTRACT §3).
//!
//! Message signatures are verified with RustCrypto (`rsa`, `p256`/`p384` ECDSA,
//! `ed25519-dalek`) over a *streamed* digest (`sha2`), not with webpki's
//! `verify_signature`, for two reasons: webpki needs the whole message in memory (a
//! detached file can be gigabytes), and ring/webpki accept only RSA-PSS with a salt as
//! long as the hash, while OpenSSL's default PSS salt is the maximum: we use the salt
//! length the PSS parameters declare. Chains are validated separately, by webpki
//! (`verify::chain`). Policy: RSA keys of 2048 to 8192 bits, SHA-256/384/512 only
//! (MD5 and SHA-1 are refused), ECDSA on P-256 and P-384, Ed25519.

mod cms;
mod keys;
mod raw;

use std::io::Read;
use std::path::Path;

use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256, Sha384, Sha512};

pub use self::cms::verify_cms;
pub use self::raw::verify_raw;

/// What was signed.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// Small content held in memory (a manifest).
    Bytes(&'a [u8]),
    /// A file of any size: streamed, never held whole in memory.
    File(&'a Path),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("refused digest or signature algorithm {0}: MD5 and SHA-1 are not accepted")]
    WeakAlgorithm(String),
    #[error("unsupported signature algorithm {0}")]
    Unsupported(String),
    #[error("no certificate in the package matches the signer")]
    SignerNotFound,
    #[error("the signed messageDigest does not match the content: the manifest was altered after signing")]
    DigestMismatch,
    #[error("the signature does not verify with the signer's key")]
    BadSignature,
    #[error("cannot read the signed content: {0}")]
    Io(String),
}

/// The outcome of one signature check. `signer` and `certificates` are filled as far as
/// they could be read even when the check fails, so a report can still name the key.
#[derive(Debug, Clone)]
pub struct SignatureCheck {
    pub signer: Option<CertificateDer<'static>>,
    /// Certificates carried inside the signature (CMS `certificates`).
    pub certificates: Vec<CertificateDer<'static>>,
    /// On success, a display name of the algorithm, e.g. `ECDSA P-256 with SHA-256`.
    pub outcome: Result<String, SignatureError>,
}

/// The digests we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) const ALL: [Self; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub(crate) fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// Read buffer for streamed content.
const CHUNK: usize = 256 << 10;

/// Digests of `content` with each of `hashes`, in one pass over the data.
pub(crate) fn digest_content(
    content: Content<'_>,
    hashes: &[Hash],
) -> Result<Vec<Vec<u8>>, SignatureError> {
    match content {
        Content::Bytes(b) => Ok(hashes.iter().map(|h| h.digest(b)).collect()),
        Content::File(path) => {
            let mut file = std::fs::File::open(path)
                .map_err(|e| SignatureError::Io(format!("{}: {e}", path.display())))?;
            let mut s256 = hashes.contains(&Hash::Sha256).then(Sha256::new);
            let mut s384 = hashes.contains(&Hash::Sha384).then(Sha384::new);
            let mut s512 = hashes.contains(&Hash::Sha512).then(Sha512::new);
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(SignatureError::Io(format!("{}: {e}", path.display()))),
                };
                let chunk = &buf[..n];
                if let Some(h) = &mut s256 {
                    h.update(chunk);
                }
                if let Some(h) = &mut s384 {
                    h.update(chunk);
                }
                if let Some(h) = &mut s512 {
                    h.update(chunk);
                }
            }
            let (d256, d384, d512) = (
                s256.map(|h| h.finalize().to_vec()),
                s384.map(|h| h.finalize().to_vec()),
                s512.map(|h| h.finalize().to_vec()),
            );
            Ok(hashes
                .iter()
                .map(|h| match h {
                    Hash::Sha256 => d256.clone().unwrap_or_default(),
                    Hash::Sha384 => d384.clone().unwrap_or_default(),
                    Hash::Sha512 => d512.clone().unwrap_or_default(),
                })
                .collect())
        }
    }
}

/// Largest content pure Ed25519 (which cannot be prehashed) reads into memory.
pub(crate) const MAX_ED25519_CONTENT: u64 = 64 << 20;

/// The whole content, for pure Ed25519; capped.
pub(crate) fn content_bytes(content: Content<'_>) -> Result<Vec<u8>, SignatureError> {
    match content {
        Content::Bytes(b) => Ok(b.to_vec()),
        Content::File(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| SignatureError::Io(format!("{}: {e}", path.display())))?;
            let mut out = Vec::new();
            file.take(MAX_ED25519_CONTENT + 1)
                .read_to_end(&mut out)
                .map_err(|e| SignatureError::Io(format!("{}: {e}", path.display())))?;
            if out.len() as u64 > MAX_ED25519_CONTENT {
                return Err(SignatureError::Unsupported(
                    "Ed25519 signatures over files larger than 64 MiB (Ed25519 cannot be \
                     prehashed); sign a manifest instead"
                        .into(),
                ));
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests;
