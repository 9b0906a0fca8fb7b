//! Opening a vendor package as hostile input (CONTRACT §3): a zip archive holding a
//! manifest, its detached signature and certificates, read in one streaming pass that
//! hashes every entry against the manifest without extracting anything to disk.
//!
//! Hostile-input rules (CONTRACT §3): entry names with `..`, absolute paths, drive
//! letters or backslashes (in the header's own name and in an Info-ZIP Unicode Path
//! field alike), encrypted entries, links, duplicate names, entries whose data overlap
//! (the "better zip bomb"), compression other than stored/deflate, and entries that
//! inflate past `verify.max_entry` make the package invalid. Sizes are counted on the
//! inflated bytes actually read, never taken from the headers (a zip bomb lies there).

mod archive;
pub mod insight;
pub mod manifest;

use std::path::Path;

pub use manifest::Manifest;

/// Limits for reading an archive; every one makes the package `invalid` when exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest uncompressed size of one entry (`verify.max_entry`).
    pub max_entry: u64,
    /// Largest sum of uncompressed sizes over all entries.
    pub max_total: u64,
    /// Most entries in one archive.
    pub max_entries: usize,
    /// Largest manifest, signature or certificate file (read into memory).
    pub max_metadata: u64,
}

impl Limits {
    /// The limits `[verify]` configures; manifests, signatures and certificate files are
    /// read into memory and capped at 16 MiB.
    pub fn from_config(v: &crate::config::VerifyConfig) -> Self {
        Self {
            max_entry: v.max_entry,
            max_total: v.max_total,
            max_entries: usize::try_from(v.max_entries).unwrap_or(usize::MAX),
            max_metadata: 16 << 20,
        }
    }
}

/// Which kind of detached signature the package carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    /// `<manifest>.p7s`: CMS/PKCS#7 SignedData, DER or PEM.
    Cms,
    /// `<manifest>.sig`: a raw signature.
    Raw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFile {
    pub path: String,
    pub kind: SignatureKind,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Ok,
    Mismatch,
    Missing,
    Unlisted,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileCheck {
    /// Path as the manifest names it (relative to the package root folder).
    pub path: String,
    pub status: FileStatus,
}

/// A zip package after one pass: metadata in memory, every other entry hashed.
#[derive(Debug, Clone)]
pub struct ZipPackage {
    /// `manifest.json` or `SHA256SUMS`, as named in the archive.
    pub manifest_path: String,
    /// The manifest's exact bytes (what the signature covers).
    pub manifest_bytes: Vec<u8>,
    pub manifest: Manifest,
    pub signature: Option<SignatureFile>,
    /// Certificate files (`certs/*.pem|crt|cer`, `chain.pem`): (path, bytes).
    pub cert_files: Vec<(String, Vec<u8>)>,
    /// One row per manifest file and per unlisted entry, sorted by path.
    pub files: Vec<FileCheck>,
}

/// Why a package could not be read. Every variant makes the verdict `invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("not a readable zip archive: {0}")]
    Malformed(String),
    #[error("entry {0:?} has an unsafe name (absolute, `..`, drive letter or backslash)")]
    UnsafeName(String),
    #[error("entry {0:?} is encrypted; packages must not contain encrypted entries")]
    Encrypted(String),
    #[error("entry {name:?} is larger than verify.max_entry ({limit} bytes)")]
    EntryTooLarge { name: String, limit: u64 },
    #[error("archive holds more than {0} entries")]
    TooManyEntries(usize),
    #[error("archive inflates to more than {0} bytes in total")]
    TooLargeInTotal(u64),
    #[error("entry {name:?} uses unsupported compression {method}")]
    UnsupportedCompression { name: String, method: String },
    #[error("{path} is larger than {limit} bytes")]
    FileTooLarge { path: String, limit: u64 },
    #[error("entry {0:?} is a symbolic link; packages must not contain links")]
    Symlink(String),
    #[error("entry {0:?} appears more than once")]
    DuplicateEntry(String),
    #[error(
        "entries {first:?} and {second:?} overlap in the archive (one compressed stream \
         shared by many entries is how a zip bomb multiplies its size); a package's \
         entries must not overlap: ask the vendor for an archive written by a normal zip tool"
    )]
    Overlapping { first: String, second: String },
    #[error("no manifest.json or SHA256SUMS found at the root or in one top-level folder")]
    NoManifest,
    #[error("malformed manifest {path}: {reason}")]
    BadManifest { path: String, reason: String },
}

/// Read a zip package in one pass. Nothing is written to disk.
pub fn read_zip(path: &Path, limits: &Limits) -> Result<ZipPackage, PackageError> {
    archive::read(path, limits)
}

/// Read a small side file (a `--signature` or `--certs` file) with a size cap enforced
/// while reading.
pub fn read_file_to_cap(path: &Path, cap: u64) -> Result<Vec<u8>, PackageError> {
    use std::io::Read;
    let io = |e: std::io::Error| PackageError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(io)?;
    if out.len() as u64 > cap {
        return Err(PackageError::FileTooLarge {
            path: path.display().to_string(),
            limit: cap,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
