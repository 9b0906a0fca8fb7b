//! One streaming pass over a zip archive: central-directory checks first, then the
//! metadata files into memory (capped), then every other entry through SHA-256 in a
//! fixed-size buffer. Nothing is extracted; memory does not grow with entry size.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use zip::read::ZipReadOptions;
use zip::CompressionMethod;

use super::manifest::{self, normalise};
use super::{
    FileCheck, FileStatus, Limits, PackageError, SignatureFile, SignatureKind, ZipPackage,
};
use crate::trust::Fingerprint;

/// Read buffer for hashing entries: large enough for SHA-256 to run at full speed.
const CHUNK: usize = 256 << 10;

struct Entry {
    index: usize,
    /// Path relative to the package root.
    rel: String,
    size: u64,
}

/// Hash one entry's inflated bytes, refusing more than `limit` of them. Returns the
/// digest and the number of bytes read.
pub(crate) fn hash_entry(
    reader: &mut dyn Read,
    limit: u64,
    buf: &mut [u8],
) -> Result<([u8; 32], u64), HashError> {
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HashError::Read(e.to_string())),
        };
        total += n as u64;
        if total > limit {
            return Err(HashError::TooLarge);
        }
        hasher.update(&buf[..n]);
    }
    Ok((hasher.finalize().into(), total))
}

#[derive(Debug)]
pub(crate) enum HashError {
    TooLarge,
    Read(String),
}

/// Packages smaller than this are hashed on one thread (a second reader is not worth
/// opening for them).
const PARALLEL_FROM: u64 = 8 << 20;

/// Hash every entry of `payload` in archive order, on two threads when the package is
/// large: each thread has its own file handle and zip reader (no shared offset, no
/// unsafe), and takes half the bytes. The entry limit is enforced per entry on the bytes
/// read; the total is checked as entries finish, so at most one entry per thread runs
/// past it before the package is refused.
fn hash_all<R: Read + std::io::Seek>(
    path: &Path,
    archive: &mut zip::ZipArchive<R>,
    payload: &[&Entry],
    limits: &Limits,
) -> Result<Vec<[u8; 32]>, PackageError> {
    let total = AtomicU64::new(0);
    let size: u64 = payload.iter().map(|e| e.size).sum();
    if size < PARALLEL_FROM || payload.len() < 2 {
        return hash_part(archive, payload, limits, &total);
    }
    // Split by declared size: the first part takes entries until it holds half.
    let mut acc = 0;
    let split = payload
        .iter()
        .position(|e| {
            acc += e.size;
            acc >= size / 2
        })
        .map_or(payload.len() - 1, |p| (p + 1).min(payload.len() - 1));
    let (first, second) = payload.split_at(split);
    let second_file = File::open(path).map_err(|e| PackageError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut second_archive = zip::ZipArchive::new(BufReader::with_capacity(CHUNK, second_file))
        .map_err(|e| PackageError::Malformed(e.to_string()))?;
    let (a, b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| hash_part(&mut second_archive, second, limits, &total));
        let a = hash_part(archive, first, limits, &total);
        let b = other
            .join()
            .unwrap_or_else(|_| Err(PackageError::Malformed("a hashing thread failed".into())));
        (a, b)
    });
    let mut out = a?;
    out.extend(b?);
    Ok(out)
}

/// Hash `part`'s entries in order with one reader.
fn hash_part<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    part: &[&Entry],
    limits: &Limits,
    total: &AtomicU64,
) -> Result<Vec<[u8; 32]>, PackageError> {
    let mut buf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(part.len());
    for e in part {
        let mut reader = archive
            .by_index_with_options(e.index, consistent())
            .map_err(|err| PackageError::Malformed(format!("{}: {err}", e.rel)))?;
        let (digest, n) =
            hash_entry(&mut reader, limits.max_entry, &mut buf).map_err(|err| match err {
                HashError::TooLarge => PackageError::EntryTooLarge {
                    name: e.rel.clone(),
                    limit: limits.max_entry,
                },
                HashError::Read(reason) => PackageError::Malformed(format!("{}: {reason}", e.rel)),
            })?;
        if total.fetch_add(n, Ordering::Relaxed).saturating_add(n) > limits.max_total {
            return Err(PackageError::TooLargeInTotal(limits.max_total));
        }
        out.push(digest);
    }
    Ok(out)
}

fn is_cert_file(rel: &str) -> bool {
    if rel == "chain.pem" {
        return true;
    }
    rel.strip_prefix("certs/").is_some_and(|rest| {
        let lower = rest.to_ascii_lowercase();
        !rest.is_empty()
            && [".pem", ".crt", ".cer"]
                .iter()
                .any(|ext| lower.ends_with(ext))
    })
}

/// The number of entries the end-of-central-directory record declares (zip64 aware).
///
/// The zip crate indexes entries by name, so two entries with one name collapse into
/// one; another unzip tool might extract either. Comparing its count with the declared
/// one exposes such duplicates.
fn declared_entries(file: &mut File) -> Result<u64, PackageError> {
    use std::io::{Seek, SeekFrom};
    let bad = |why: &str| PackageError::Malformed(why.to_owned());
    let len = file
        .seek(SeekFrom::End(0))
        .map_err(|e| bad(&e.to_string()))?;
    // EOCD is 22 bytes plus a comment of at most 65535.
    let tail_len = len.min(22 + 65_535);
    file.seek(SeekFrom::Start(len - tail_len))
        .map_err(|e| bad(&e.to_string()))?;
    let mut tail = vec![0u8; usize::try_from(tail_len).unwrap_or(0)];
    file.read_exact(&mut tail)
        .map_err(|e| bad(&e.to_string()))?;
    let eocd = tail
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .ok_or_else(|| bad("no end-of-central-directory record"))?;
    let field = |at: usize, n: usize| tail.get(eocd + at..eocd + at + n);
    let total = field(10, 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| bad("truncated end-of-central-directory record"))?;
    if total != 0xFFFF {
        return Ok(u64::from(total));
    }
    // zip64: the locator sits just before the EOCD and points at the zip64 record.
    let locator = eocd
        .checked_sub(20)
        .and_then(|l| tail.get(l..l + 20))
        .filter(|l| l.starts_with(b"PK\x06\x07"))
        .ok_or_else(|| bad("zip64 archive without a zip64 locator"))?;
    let mut off = [0u8; 8];
    off.copy_from_slice(&locator[8..16]);
    let mut record = [0u8; 40];
    file.seek(SeekFrom::Start(u64::from_le_bytes(off)))
        .and_then(|_| file.read_exact(&mut record))
        .map_err(|_| bad("zip64 end-of-central-directory record out of range"))?;
    if !record.starts_with(b"PK\x06\x06") {
        return Err(bad("bad zip64 end-of-central-directory record"));
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&record[32..40]);
    Ok(u64::from_le_bytes(n))
}

/// The file name written in the central-directory record at `offset`, as the header
/// itself has it (before any Unicode Path field renames it).
fn central_name(file: &mut File, offset: u64) -> Result<Vec<u8>, PackageError> {
    use std::io::{Seek, SeekFrom};
    let bad = || PackageError::Malformed(format!("central-directory record at {offset}"));
    let mut fixed = [0u8; 46];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut fixed))
        .map_err(|_| bad())?;
    if !fixed.starts_with(b"PK\x01\x02") {
        return Err(bad());
    }
    let mut name = vec![0u8; usize::from(u16::from_le_bytes([fixed[28], fixed[29]]))];
    file.read_exact(&mut name).map_err(|_| bad())?;
    Ok(name)
}

/// Refuse entries whose bytes overlap. David Fifield's "better zip bomb" (2019) points
/// many central-directory entries into one shared compressed stream (fully, or by quoting
/// the next local header in a stored block), so 42 KB inflate to gigabytes that
/// `verify.max_total` would otherwise only cut after reading them all. No zip tool
/// writes overlapping entries, so this costs a normal package nothing.
fn check_no_overlap(spans: &mut [(u64, u64, String)]) -> Result<(), PackageError> {
    spans.sort_by_key(|(start, _, _)| *start);
    for pair in spans.windows(2) {
        let [(_, end, first), (start, _, second)] = pair else {
            continue;
        };
        if start < end {
            return Err(PackageError::Overlapping {
                first: first.clone(),
                second: second.clone(),
            });
        }
    }
    Ok(())
}

/// Open entries only when the local header agrees with the central directory (name,
/// sizes, method): otherwise the bytes hashed would not be the entry that was vetted.
fn consistent() -> ZipReadOptions<'static> {
    ZipReadOptions::new().enforce_header_consistency(true)
}

pub(super) fn read(path: &Path, limits: &Limits) -> Result<ZipPackage, PackageError> {
    let open = || {
        File::open(path).map_err(|e| PackageError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    // The declared entry count first: refusing a huge central directory before the zip
    // crate loads it keeps memory bounded by `max_entries`, not by the archive.
    if let Ok(declared) = declared_entries(&mut open()?) {
        if declared > limits.max_entries as u64 {
            return Err(PackageError::TooManyEntries(limits.max_entries));
        }
    }
    let file = open()?;
    let mut archive = zip::ZipArchive::new(BufReader::with_capacity(CHUNK, file))
        .map_err(|e| PackageError::Malformed(e.to_string()))?;
    if archive.len() > limits.max_entries {
        return Err(PackageError::TooManyEntries(limits.max_entries));
    }
    let declared = declared_entries(&mut open()?)?;
    if archive.len() as u64 != declared {
        return Err(PackageError::DuplicateEntry(format!(
            "the central directory declares {declared} entries but only {} distinct names",
            archive.len()
        )));
    }

    // 1. The central directory, before any data is read.
    let mut names: Vec<(usize, String, u64)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut spans: Vec<(u64, u64, String)> = Vec::with_capacity(archive.len());
    let mut central = open()?;
    for index in 0..archive.len() {
        let meta = archive
            .by_index_data(index)
            .map_err(|e| PackageError::Malformed(format!("entry {index}: {e}")))?;
        let raw = String::from_utf8_lossy(meta.name_raw()).into_owned();
        let name = normalise(&raw).ok_or_else(|| PackageError::UnsafeName(raw.clone()))?;
        // The zip crate reports the Info-ZIP Unicode Path (0x7075) name when an entry
        // carries one; a tool that ignores that field extracts the header's own name,
        // which could be `../x` behind a harmless `x`. Both must be safe.
        let header = central_name(&mut central, meta.central_header_start())?;
        if header != meta.name_raw() {
            let header = String::from_utf8_lossy(&header).into_owned();
            if normalise(&header).is_none() {
                return Err(PackageError::UnsafeName(header));
            }
        }
        // Where the entry's bytes lie: its local header (at least 30 bytes) and then its
        // compressed data. A lower bound of the end, so a normal archive never trips it.
        let end = meta
            .header_start()
            .saturating_add(30)
            .saturating_add(meta.compressed_size());
        spans.push((meta.header_start(), end, raw.clone()));
        if meta.is_symlink() {
            return Err(PackageError::Symlink(raw));
        }
        if meta.encrypted() {
            return Err(PackageError::Encrypted(raw));
        }
        if !seen.insert(name.clone()) {
            return Err(PackageError::DuplicateEntry(raw));
        }
        if meta.is_dir() || raw.ends_with('/') {
            continue;
        }
        match meta.compression() {
            CompressionMethod::Stored | CompressionMethod::Deflated => {}
            other => {
                return Err(PackageError::UnsupportedCompression {
                    name: raw,
                    method: format!("{other:?}"),
                })
            }
        }
        if meta.size() > limits.max_entry {
            return Err(PackageError::EntryTooLarge {
                name: raw,
                limit: limits.max_entry,
            });
        }
        names.push((index, name, meta.size()));
    }

    check_no_overlap(&mut spans)?;

    // 2. The package root: the archive root, or one top-level folder holding it all.
    let has = |n: &str| names.iter().any(|(_, name, _)| name == n);
    let prefix = if has("manifest.json") || has("SHA256SUMS") {
        String::new()
    } else {
        let tops: BTreeSet<&str> = names
            .iter()
            .map(|(_, n, _)| n.split_once('/').map_or("", |(top, _)| top))
            .collect();
        match tops.into_iter().collect::<Vec<_>>().as_slice() {
            [top] if !top.is_empty() => format!("{top}/"),
            _ => return Err(PackageError::NoManifest),
        }
    };
    let entries: Vec<Entry> = names
        .into_iter()
        .map(|(index, name, size)| Entry {
            index,
            rel: name.strip_prefix(&prefix).unwrap_or(&name).to_owned(),
            size,
        })
        .collect();
    let find = |rel: &str| entries.iter().find(|e| e.rel == rel);
    let manifest_path = if find("manifest.json").is_some() {
        "manifest.json"
    } else if find("SHA256SUMS").is_some() {
        "SHA256SUMS"
    } else {
        return Err(PackageError::NoManifest);
    };
    let sig = [
        (format!("{manifest_path}.p7s"), SignatureKind::Cms),
        (format!("{manifest_path}.sig"), SignatureKind::Raw),
    ]
    .into_iter()
    .find(|(p, _)| find(p).is_some());

    // 3. Metadata into memory, capped.
    let mut read_small = |e: &Entry| -> Result<Vec<u8>, PackageError> {
        if e.size > limits.max_metadata {
            return Err(PackageError::EntryTooLarge {
                name: e.rel.clone(),
                limit: limits.max_metadata,
            });
        }
        let mut f = archive
            .by_index_with_options(e.index, consistent())
            .map_err(|err| PackageError::Malformed(format!("{}: {err}", e.rel)))?;
        let mut out = Vec::new();
        (&mut f)
            .take(limits.max_metadata + 1)
            .read_to_end(&mut out)
            .map_err(|err| PackageError::Malformed(format!("{}: {err}", e.rel)))?;
        if out.len() as u64 > limits.max_metadata {
            return Err(PackageError::EntryTooLarge {
                name: e.rel.clone(),
                limit: limits.max_metadata,
            });
        }
        Ok(out)
    };
    let mut metadata: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    let digest_of = |b: &[u8]| -> [u8; 32] { Sha256::digest(b).into() };
    let manifest_entry = find(manifest_path).ok_or(PackageError::NoManifest)?;
    let manifest_bytes = read_small(manifest_entry)?;
    metadata.insert(manifest_path.to_owned(), digest_of(&manifest_bytes));
    let parsed = if manifest_path == "manifest.json" {
        manifest::parse_manifest_json(&manifest_bytes)
    } else {
        manifest::parse_sha256sums(&manifest_bytes)
    }
    .map_err(|reason| PackageError::BadManifest {
        path: manifest_path.to_owned(),
        reason,
    })?;
    let signature = match &sig {
        Some((p, kind)) => {
            let e = find(p).ok_or(PackageError::NoManifest)?;
            let bytes = read_small(e)?;
            metadata.insert(p.clone(), digest_of(&bytes));
            Some(SignatureFile {
                path: p.clone(),
                kind: *kind,
                bytes,
            })
        }
        None => None,
    };
    let mut cert_files = Vec::new();
    for e in entries.iter().filter(|e| is_cert_file(&e.rel)) {
        let bytes = read_small(e)?;
        metadata.insert(e.rel.clone(), digest_of(&bytes));
        cert_files.push((e.rel.clone(), bytes));
    }

    // 4. Every other entry, hashed in one streaming pass.
    let listed: BTreeMap<&str, &Fingerprint> = parsed
        .entries
        .iter()
        .map(|m| (m.path.as_str(), &m.sha256))
        .collect();
    let payload: Vec<&Entry> = entries
        .iter()
        .filter(|e| !metadata.contains_key(&e.rel))
        .collect();
    let digests = hash_all(path, &mut archive, &payload, limits)?;
    let mut files = Vec::new();
    let mut present = BTreeSet::new();
    for (e, digest) in payload.iter().zip(digests) {
        present.insert(e.rel.clone());
        let status = match listed.get(e.rel.as_str()) {
            Some(expected) if expected.as_bytes() == &digest => FileStatus::Ok,
            Some(_) => FileStatus::Mismatch,
            None => FileStatus::Unlisted,
        };
        files.push(FileCheck {
            path: e.rel.clone(),
            status,
        });
    }
    for m in &parsed.entries {
        if !present.contains(&m.path) {
            // A listed metadata file (say, certs/chain.pem) was read into memory.
            let status = match metadata.get(&m.path) {
                Some(d) if d == m.sha256.as_bytes() => FileStatus::Ok,
                Some(_) => FileStatus::Mismatch,
                None => FileStatus::Missing,
            };
            files.push(FileCheck {
                path: m.path.clone(),
                status,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ZipPackage {
        manifest_path: manifest_path.to_owned(),
        manifest_bytes,
        manifest: parsed,
        signature,
        cert_files,
        files,
    })
}
