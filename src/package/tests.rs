//! Package reader tests: real zips written with the zip crate, hostile ones made by
//! patching the bytes real tools write.

use std::io::Write;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use super::*;

fn limits() -> Limits {
    Limits {
        max_entry: 1 << 30,
        max_total: 4 << 30,
        max_entries: 1000,
        max_metadata: 1 << 20,
    }
}

fn manifest(files: &[(&str, &[u8])]) -> Vec<u8> {
    let list: Vec<_> = files
        .iter()
        .map(|(p, d)| serde_json::json!({"path": p, "sha256": hex::encode(Sha256::digest(d))}))
        .collect();
    serde_json::to_vec(&serde_json::json!({"name": "pkg", "files": list})).unwrap()
}

fn zip_bytes(entries: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pkg.zip");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn read_bytes(bytes: &[u8], limits: &Limits) -> Result<ZipPackage, PackageError> {
    let (_dir, path) = write(bytes);
    read_zip(&path, limits)
}

/// A good package: payload, manifest, signature and certificate files.
fn good(folder: &str) -> Vec<u8> {
    let payload: [(&str, &[u8]); 2] =
        [("bin/agent", b"binary"), ("scripts/run.sh", b"#!/bin/sh\n")];
    let m = manifest(&payload);
    let name = |n: &str| format!("{folder}{n}");
    let names: Vec<String> = [
        "bin/agent",
        "scripts/run.sh",
        "manifest.json",
        "manifest.json.p7s",
        "certs/ca.pem",
        "chain.pem",
    ]
    .iter()
    .map(|n| name(n))
    .collect();
    let data: [&[u8]; 6] = [b"binary", b"#!/bin/sh\n", &m, b"sig", b"ca", b"chain"];
    let entries: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(data).collect();
    zip_bytes(&entries, CompressionMethod::Deflated)
}

#[test]
fn reads_a_good_package_at_the_root_and_in_one_folder() {
    for folder in ["", "Full-upgrade-package-dten/"] {
        let pkg = read_bytes(&good(folder), &limits()).unwrap();
        assert_eq!(pkg.manifest_path, "manifest.json");
        assert_eq!(pkg.signature.as_ref().unwrap().kind, SignatureKind::Cms);
        assert_eq!(pkg.signature.as_ref().unwrap().bytes, b"sig");
        let certs: Vec<_> = pkg.cert_files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(certs, ["certs/ca.pem", "chain.pem"]);
        assert_eq!(pkg.files.len(), 2);
        assert!(
            pkg.files.iter().all(|f| f.status == FileStatus::Ok),
            "{:?}",
            pkg.files
        );
    }
}

#[test]
fn sha256sums_and_raw_signature() {
    let sums = format!("{}  bin/a\n", hex::encode(Sha256::digest(b"aaa")));
    let bytes = zip_bytes(
        &[
            ("bin/a", b"aaa"),
            ("SHA256SUMS", sums.as_bytes()),
            ("SHA256SUMS.sig", b"s"),
        ],
        CompressionMethod::Stored,
    );
    let pkg = read_bytes(&bytes, &limits()).unwrap();
    assert_eq!(pkg.manifest_path, "SHA256SUMS");
    assert_eq!(pkg.signature.unwrap().kind, SignatureKind::Raw);
    assert_eq!(
        pkg.files,
        vec![FileCheck {
            path: "bin/a".into(),
            status: FileStatus::Ok
        }]
    );
}

#[test]
fn mismatch_missing_and_unlisted() {
    let m = manifest(&[("a", b"one"), ("b", b"two")]);
    let bytes = zip_bytes(
        &[("a", b"ONE"), ("c", b"three"), ("manifest.json", &m)],
        CompressionMethod::Deflated,
    );
    let pkg = read_bytes(&bytes, &limits()).unwrap();
    let got: Vec<_> = pkg
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.status))
        .collect();
    assert_eq!(
        got,
        [
            ("a", FileStatus::Mismatch),
            ("b", FileStatus::Missing),
            ("c", FileStatus::Unlisted)
        ]
    );
    assert!(pkg.signature.is_none());
}

#[test]
fn unsafe_names_are_refused() {
    for name in [
        "../evil",
        "/etc/passwd",
        "a/../../b",
        "..\\evil",
        "C:/Windows/x",
        "./../x",
    ] {
        let m = manifest(&[]);
        let bytes = zip_bytes(
            &[("manifest.json", &m), (name, b"x")],
            CompressionMethod::Stored,
        );
        match read_bytes(&bytes, &limits()) {
            Err(PackageError::UnsafeName(n)) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn symlinks_are_refused() {
    let m = manifest(&[]);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default();
    zip.start_file("manifest.json", opts).unwrap();
    zip.write_all(&m).unwrap();
    zip.add_symlink("link", "/etc/shadow", opts).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert!(matches!(
        read_bytes(&bytes, &limits()),
        Err(PackageError::Symlink(_))
    ));
}

/// Every offset of `magic` in `bytes`.
fn offsets(bytes: &[u8], magic: &[u8]) -> Vec<usize> {
    bytes
        .windows(magic.len())
        .enumerate()
        .filter(|(_, w)| *w == magic)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn encrypted_entries_are_refused() {
    let m = manifest(&[("a", b"x")]);
    let mut bytes = zip_bytes(
        &[("manifest.json", &m), ("a", b"x")],
        CompressionMethod::Stored,
    );
    // Set the "encrypted" bit of the general-purpose flags in both headers.
    for o in offsets(&bytes, b"PK\x03\x04") {
        bytes[o + 6] |= 1;
    }
    for o in offsets(&bytes, b"PK\x01\x02") {
        bytes[o + 8] |= 1;
    }
    assert!(
        matches!(
            read_bytes(&bytes, &limits()),
            Err(PackageError::Encrypted(_))
        ),
        "{:?}",
        read_bytes(&bytes, &limits())
    );
}

#[test]
fn duplicate_names_are_refused() {
    let m = manifest(&[("aaaa", b"1")]);
    let bytes = zip_bytes(
        &[("manifest.json", &m), ("aaaa", b"1"), ("bbbb", b"2")],
        CompressionMethod::Stored,
    );
    let patched: Vec<u8> = {
        let mut b = bytes.clone();
        for o in offsets(&bytes, b"bbbb") {
            b[o..o + 4].copy_from_slice(b"aaaa");
        }
        b
    };
    let r = read_bytes(&patched, &limits());
    assert!(
        matches!(
            r,
            Err(PackageError::DuplicateEntry(_)) | Err(PackageError::Malformed(_))
        ),
        "{r:?}"
    );
}

#[test]
fn unsupported_compression_is_refused() {
    let m = manifest(&[]);
    let mut bytes = zip_bytes(
        &[("manifest.json", &m), ("a", b"x")],
        CompressionMethod::Stored,
    );
    for o in offsets(&bytes, b"PK\x03\x04") {
        bytes[o + 8] = 12; // bzip2
    }
    for o in offsets(&bytes, b"PK\x01\x02") {
        bytes[o + 10] = 12;
    }
    let r = read_bytes(&bytes, &limits());
    assert!(
        matches!(r, Err(PackageError::UnsupportedCompression { .. })),
        "{r:?}"
    );
}

#[test]
fn a_bomb_that_lies_about_its_size_is_stopped_by_the_bytes_read() {
    let zeros = vec![0u8; 8 << 20];
    let m = manifest(&[("bomb", &zeros)]);
    let mut bytes = zip_bytes(
        &[("manifest.json", &m), ("bomb", &zeros)],
        CompressionMethod::Deflated,
    );
    assert!(bytes.len() < 64 << 10, "deflate should shrink zeros");
    // Claim 100 bytes in both headers.
    for o in offsets(&bytes, b"PK\x03\x04") {
        bytes[o + 22..o + 26].copy_from_slice(&100u32.to_le_bytes());
    }
    for o in offsets(&bytes, b"PK\x01\x02") {
        bytes[o + 24..o + 28].copy_from_slice(&100u32.to_le_bytes());
    }
    let small = Limits {
        max_entry: 1 << 20,
        ..limits()
    };
    let r = read_bytes(&bytes, &small);
    assert!(
        matches!(
            r,
            Err(PackageError::EntryTooLarge { .. }) | Err(PackageError::Malformed(_))
        ),
        "{r:?}"
    );
    // Honest headers but over the limit: refused before any data is read.
    let honest = zip_bytes(
        &[("manifest.json", &m), ("bomb", &zeros)],
        CompressionMethod::Deflated,
    );
    assert!(matches!(
        read_bytes(&honest, &small),
        Err(PackageError::EntryTooLarge { .. })
    ));
    // And the total over all entries.
    let total = Limits {
        max_total: 4 << 20,
        ..limits()
    };
    assert!(matches!(
        read_bytes(&honest, &total),
        Err(PackageError::TooLargeInTotal(_))
    ));
    let few = Limits {
        max_entries: 1,
        ..limits()
    };
    assert!(matches!(
        read_bytes(&honest, &few),
        Err(PackageError::TooManyEntries(1))
    ));
}

#[test]
fn a_large_entry_is_hashed_in_a_stream() {
    let big = vec![7u8; 64 << 20];
    let m = manifest(&[("big.img", &big)]);
    let bytes = zip_bytes(
        &[("manifest.json", &m), ("big.img", &big)],
        CompressionMethod::Deflated,
    );
    let pkg = read_bytes(&bytes, &limits()).unwrap();
    assert_eq!(pkg.files[0].status, FileStatus::Ok);
}

#[test]
fn truncated_garbage_and_empty_files_are_malformed() {
    let good = good("");
    for bytes in [&good[..good.len() / 2], &good[..10], b""] {
        let r = read_bytes(bytes, &limits());
        assert!(matches!(r, Err(PackageError::Malformed(_))), "{r:?}");
    }
    // An end record full of garbage claims thousands of entries: refused either way.
    let r = read_bytes(b"PK\x05\x06 not a zip at all", &limits());
    assert!(
        matches!(
            r,
            Err(PackageError::Malformed(_) | PackageError::TooManyEntries(_))
        ),
        "{r:?}"
    );
    // No manifest at all.
    let bytes = zip_bytes(&[("a", b"1"), ("b/c", b"2")], CompressionMethod::Stored);
    assert!(matches!(
        read_bytes(&bytes, &limits()),
        Err(PackageError::NoManifest)
    ));
    // A manifest that is not JSON.
    let bytes = zip_bytes(&[("manifest.json", b"{nope")], CompressionMethod::Stored);
    assert!(matches!(
        read_bytes(&bytes, &limits()),
        Err(PackageError::BadManifest { .. })
    ));
}

#[test]
fn side_files_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, vec![1u8; 100]).unwrap();
    assert_eq!(read_file_to_cap(&p, 100).unwrap().len(), 100);
    assert!(read_file_to_cap(&p, 99).is_err());
    assert!(matches!(
        read_file_to_cap(&dir.path().join("none"), 1),
        Err(PackageError::Io { .. })
    ));
}

#[test]
fn every_single_byte_flip_is_handled_without_panic() {
    let small = zip_bytes(
        &[("manifest.json", b"{\"files\":[]}"), ("a", b"x")],
        CompressionMethod::Deflated,
    );
    for i in 0..small.len() {
        let mut bytes = small.clone();
        bytes[i] ^= 0x5a;
        let _ = read_bytes(&bytes, &limits());
    }
}

#[test]
fn large_packages_are_hashed_on_two_readers_with_results_in_place() {
    let blobs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 4 << 20]).collect();
    let names = ["a.img", "b.img", "c.img", "d.img", "e.img"];
    let mut listed: Vec<(&str, &[u8])> = names
        .iter()
        .copied()
        .zip(blobs.iter().map(Vec::as_slice))
        .collect();
    // The manifest lies about d.img only.
    listed[3].1 = b"something else";
    let m = manifest(&listed);
    let mut entries: Vec<(&str, &[u8])> = names
        .iter()
        .copied()
        .zip(blobs.iter().map(Vec::as_slice))
        .collect();
    entries.push(("manifest.json", &m));
    let bytes = zip_bytes(&entries, CompressionMethod::Deflated);
    let pkg = read_bytes(&bytes, &limits()).unwrap();
    let got: Vec<_> = pkg
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.status))
        .collect();
    assert_eq!(
        got,
        [
            ("a.img", FileStatus::Ok),
            ("b.img", FileStatus::Ok),
            ("c.img", FileStatus::Ok),
            ("d.img", FileStatus::Mismatch),
            ("e.img", FileStatus::Ok)
        ]
    );
    let small_total = Limits {
        max_total: 10 << 20,
        ..limits()
    };
    assert!(matches!(
        read_bytes(&bytes, &small_total),
        Err(PackageError::TooLargeInTotal(_))
    ));
}
