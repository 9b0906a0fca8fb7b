//! Hostile packages against the real binary: memory stays flat on a huge entry, a zip
//! bomb is stopped by the bytes actually inflated, and garbage in every slot gives a
//! clear `invalid`, never a panic.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Alg, Env, Pki, SigForm, ZipSpec};

#[test]
fn a_one_gib_entry_is_verified_in_flat_memory() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    env.trust("root", &pki.root.der, "approved");
    // 1 GiB of a repeating pattern, deflated while it is written (never held in memory).
    let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    for _ in 0..1024 {
        sha2::Digest::update(&mut hasher, &block);
    }
    let digest = hex::encode(sha2::Digest::finalize(hasher));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "files": [{"path": "firmware.img", "sha256": digest}]
    }))
    .unwrap();
    let sig = common::openssl_cms(&pki.leaf, &[&pki.intermediate.der], &manifest, false, &[]);
    let zip_path = env.path("big.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("firmware.img", opts).unwrap();
    for _ in 0..1024 {
        zip.write_all(&block).unwrap();
    }
    zip.start_file("manifest.json", opts).unwrap();
    zip.write_all(&manifest).unwrap();
    zip.start_file("manifest.json.p7s", opts).unwrap();
    zip.write_all(&sig).unwrap();
    zip.finish().unwrap();

    let m = env.run_measured(&["verify", zip_path.to_str().unwrap(), "--format", "json"]);
    let (code, peak) = (m.code, m.peak);
    let report: serde_json::Value = serde_json::from_str(&m.stdout).unwrap();
    assert_eq!(
        (code, report["verdict"].as_str()),
        (0, Some("trusted")),
        "{report}"
    );
    assert!(peak > 0, "could not read VmHWM");
    assert!(
        peak < 64 << 20,
        "peak memory {} MiB for a 1 GiB entry",
        peak >> 20
    );
    eprintln!("1 GiB entry verified with peak RSS {} MiB", peak >> 20);
}

#[test]
fn garbage_in_every_slot_is_invalid_not_a_panic() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    env.trust("root", &pki.root.der, "approved");
    let base = ZipSpec::new(&pki, SigForm::CmsDer).entries();
    let garbage: [&[u8]; 5] = [
        b"",
        b"\x00",
        b"\x30\x82\xff\xff",
        b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
        &[0xff; 4096],
    ];
    for slot in ["manifest.json", "manifest.json.p7s", "certs/chain.pem"] {
        for g in garbage {
            let mut entries = base.clone();
            entries.iter_mut().find(|(n, _)| n == slot).unwrap().1 = g.to_vec();
            let zip = env.path("g.zip");
            common::write_zip(&zip, &entries);
            let out = env.run(&["verify", zip.to_str().unwrap(), "--format", "json"]);
            let stderr = common::stderr(&out);
            assert!(!stderr.contains("panicked"), "{slot}: {stderr}");
            assert_eq!(out.status.code(), Some(1), "{slot} {g:?}: {stderr}");
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(r["verdict"], "invalid");
            assert!(!r["reasons"].as_array().unwrap().is_empty());
        }
    }
    // Garbage detached signatures and certificate files.
    let file = env.write("f.bin", b"content");
    for g in garbage {
        let sig = env.write("f.bin.p7s", g);
        let out = env.run(&[
            "verify",
            file.to_str().unwrap(),
            "--signature",
            sig.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1));
        let raw = env.write("f.bin.sig", g);
        let certs = env.write("c.pem", g);
        let out = env.run(&[
            "verify",
            file.to_str().unwrap(),
            "--signature",
            raw.to_str().unwrap(),
            "--certs",
            certs.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    }
}

// ---------------------------------------------------------------------------------------
// Hand-made archives: the bytes a hostile tool writes, not what the zip crate would.

/// One entry of a hand-made zip, its data stored as given.
struct Raw {
    name: Vec<u8>,
    data: Vec<u8>,
    /// Extra fields, written in both headers.
    extra: Vec<u8>,
    /// Unix mode for the external attributes (0o100644 a file, 0o120777 a link).
    mode: u32,
}

impl Raw {
    fn file(name: impl Into<Vec<u8>>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            data: data.into(),
            extra: Vec::new(),
            mode: 0o100_644,
        }
    }
}

fn crc(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// Sizes, method and CRC as both headers carry them.
#[derive(Clone, Copy)]
struct Head {
    method: u16,
    crc: u32,
    csize: u32,
    usize: u32,
}

fn u16le(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap().to_le_bytes()
}

fn local_header(name: &[u8], extra: &[u8], h: Head) -> Vec<u8> {
    let mut b = b"PK\x03\x04".to_vec();
    b.extend(20u16.to_le_bytes()); // version needed
    b.extend(0u16.to_le_bytes()); // flags
    b.extend(h.method.to_le_bytes());
    b.extend(0u16.to_le_bytes()); // time
    b.extend(0x21u16.to_le_bytes()); // date: 1980-01-01
    b.extend(h.crc.to_le_bytes());
    b.extend(h.csize.to_le_bytes());
    b.extend(h.usize.to_le_bytes());
    b.extend(u16le(name.len()));
    b.extend(u16le(extra.len()));
    b.extend(name);
    b.extend(extra);
    b
}

fn central_header(name: &[u8], extra: &[u8], h: Head, mode: u32, offset: usize) -> Vec<u8> {
    let mut b = b"PK\x01\x02".to_vec();
    b.extend(0x031Eu16.to_le_bytes()); // made by: Unix, spec 3.0
    b.extend(20u16.to_le_bytes());
    b.extend(0u16.to_le_bytes());
    b.extend(h.method.to_le_bytes());
    b.extend(0u16.to_le_bytes());
    b.extend(0x21u16.to_le_bytes());
    b.extend(h.crc.to_le_bytes());
    b.extend(h.csize.to_le_bytes());
    b.extend(h.usize.to_le_bytes());
    b.extend(u16le(name.len()));
    b.extend(u16le(extra.len()));
    b.extend(0u16.to_le_bytes()); // comment
    b.extend(0u16.to_le_bytes()); // disk
    b.extend(0u16.to_le_bytes()); // internal attributes
    b.extend((mode << 16).to_le_bytes());
    b.extend(u32::try_from(offset).unwrap().to_le_bytes());
    b.extend(name);
    b.extend(extra);
    b
}

fn end_record(entries: usize, cd_size: usize, cd_offset: usize) -> Vec<u8> {
    let mut b = b"PK\x05\x06".to_vec();
    b.extend([0; 4]);
    b.extend(u16le(entries));
    b.extend(u16le(entries));
    b.extend(u32::try_from(cd_size).unwrap().to_le_bytes());
    b.extend(u32::try_from(cd_offset).unwrap().to_le_bytes());
    b.extend(0u16.to_le_bytes());
    b
}

/// A stored (uncompressed) archive of `entries`, exactly as given.
fn hand_zip(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let len = u32::try_from(e.data.len()).unwrap();
        let h = Head {
            method: 0,
            crc: crc(&e.data),
            csize: len,
            usize: len,
        };
        central.extend(central_header(&e.name, &e.extra, h, e.mode, out.len()));
        out.extend(local_header(&e.name, &e.extra, h));
        out.extend(&e.data);
    }
    let cd_offset = out.len();
    out.extend(&central);
    out.extend(end_record(entries.len(), central.len(), cd_offset));
    out
}

/// The signed package's entries (a good `trusted` package), as hand-made entries.
fn signed_entries(pki: &Pki) -> Vec<Raw> {
    ZipSpec::new(pki, SigForm::CmsDer)
        .entries()
        .into_iter()
        .map(|(n, d)| Raw::file(n, d))
        .collect()
}

/// An Info-ZIP Unicode Path extra field (0x7075) that renames `header_name` to `shown`
/// for readers that honour it (its CRC matches the header's name, so they do).
fn unicode_path(header_name: &[u8], shown: &[u8]) -> Vec<u8> {
    let mut body = vec![1u8];
    body.extend(crc(header_name).to_le_bytes());
    body.extend(shown);
    let mut f = 0x7075u16.to_le_bytes().to_vec();
    f.extend(u16le(body.len()));
    f.extend(body);
    f
}

#[test]
fn zip_slip_names_are_invalid_and_nothing_is_written() {
    let pki = Pki::new(Alg::P256);
    let env = Env::new();
    env.trust("root", &pki.root.der, "approved");
    // The untouched package is trusted: every refusal below is the hostile entry's.
    let good = env.write("good.zip", hand_zip(&signed_entries(&pki)));
    assert_eq!(env.verify(&[good.to_str().unwrap()]).0, 0);

    let token = format!("tw-slip-{}", std::process::id());
    let t = token.as_str();
    let mut cases: Vec<(String, Raw)> = [
        format!("../{t}"),
        format!("../../../../../../tmp/{t}"),
        format!("/tmp/{t}"),
        format!("a/../../{t}"),
        format!("..\\{t}"),
        format!("a\\..\\..\\{t}"),
        format!("C:\\{t}"),
        format!("C:/{t}"),
        format!("C:{t}"),
        format!("bin/{t}\0.txt"),
        format!("./../{t}"),
    ]
    .into_iter()
    .map(|n| (n.clone(), Raw::file(n, b"owned".to_vec())))
    .collect();
    // A link entry: harmless name, Unix mode S_IFLNK, target outside.
    let mut link = Raw::file("bin/helper", b"/etc/cron.d".to_vec());
    link.mode = 0o120_777;
    cases.push(("bin/helper (symlink)".into(), link));
    // A safe-looking name that a Unicode Path field shows, over `../x` in the header
    // (what a tool that ignores the field extracts), for a file and a directory.
    for (header, shown) in [
        (format!("../{t}"), t.to_owned()),
        (format!("../{t}/"), format!("{t}/")),
    ] {
        let mut e = Raw::file(header.clone(), Vec::new());
        e.extra = unicode_path(header.as_bytes(), shown.as_bytes());
        cases.push((format!("{header} shown as {shown}"), e));
    }
    for (label, hostile) in cases {
        let mut entries = signed_entries(&pki);
        entries.insert(1, hostile);
        let zip = env.write("slip.zip", hand_zip(&entries));
        let m = env.run_measured(&["verify", zip.to_str().unwrap(), "--format", "json"]);
        assert!(!m.stderr.contains("panicked"), "{label}: {}", m.stderr);
        let report = m.report();
        assert_eq!(
            (m.code, common::verdict(&report)),
            (1, "invalid"),
            "{label}: {report}"
        );
        let why = common::reasons(&report);
        assert!(
            why.contains("unsafe name") || why.contains("symbolic link"),
            "{label}: {why}"
        );
        m.figure(&format!("zip slip {label:?}: {why}"));
    }
    // A manifest naming a path outside the package, correctly signed.
    let manifest = serde_json::to_vec(&serde_json::json!({
        "files": [{"path": format!("../../{t}"), "sha256": common::sha256_hex(b"x")}]
    }))
    .unwrap();
    let sig = common::openssl_cms(&pki.leaf, &[&pki.intermediate.der], &manifest, false, &[]);
    let chain = common::pem_bundle(&[&pki.leaf.der, &pki.intermediate.der]);
    let zip = env.write(
        "m.zip",
        hand_zip(&[
            Raw::file("manifest.json", manifest),
            Raw::file("manifest.json.p7s", sig),
            Raw::file("certs/chain.pem", chain),
        ]),
    );
    let (code, report) = env.verify(&[zip.to_str().unwrap()]);
    assert_eq!((code, common::verdict(&report)), (1, "invalid"), "{report}");
    assert!(common::reasons(&report).contains("unsafe path"), "{report}");
    // verify extracts nothing, wherever the names point.
    for dir in [
        std::path::PathBuf::from("/tmp"),
        env.dir.path().to_path_buf(),
        env.dir.path().parent().unwrap().to_path_buf(),
        std::env::current_dir().unwrap(),
    ] {
        assert!(!dir.join(t).exists(), "{} written", dir.join(t).display());
    }
}

use common::{deflated_zeros, zeros_crc};

/// Zeros inflated by one bomb entry: 4 GiB less 1 MiB (the most a zip without zip64
/// declares).
const BOMB: u64 = (4 << 30) - (1 << 20);

#[test]
fn a_small_archive_that_inflates_to_gibs_is_stopped() {
    let env = Env::new();
    env.configure("[verify]\nmax_entry = \"1GiB\"\n");
    let kernel = deflated_zeros(BOMB >> 20);
    let zeros = zeros_crc(BOMB);
    let manifest = serde_json::to_vec(&serde_json::json!({"files": []})).unwrap();
    let build = |declared: u32| {
        let h = Head {
            method: 8,
            crc: zeros.sum(),
            csize: u32::try_from(kernel.len()).unwrap(),
            usize: declared,
        };
        let mut out = local_header(b"firmware.img", b"", h);
        out.extend(&kernel);
        let m = Raw::file("manifest.json", manifest.clone());
        let mh = Head {
            method: 0,
            crc: crc(&m.data),
            csize: u32::try_from(m.data.len()).unwrap(),
            usize: u32::try_from(m.data.len()).unwrap(),
        };
        let mut central = central_header(b"firmware.img", b"", h, 0o100_644, 0);
        central.extend(central_header(&m.name, b"", mh, 0o100_644, out.len()));
        out.extend(local_header(&m.name, b"", mh));
        out.extend(&m.data);
        let cd = out.len();
        out.extend(&central);
        out.extend(end_record(2, central.len(), cd));
        out
    };
    // Honest headers: 4 GiB declared, refused from the central directory.
    let honest = env.write("honest.zip", build(u32::try_from(BOMB).unwrap()));
    let size = std::fs::metadata(&honest).unwrap().len();
    let m = env.run_measured(&["verify", honest.to_str().unwrap(), "--format", "json"]);
    let why = common::reasons(&m.report());
    assert_eq!(m.code, 1, "{why}");
    assert!(why.contains("larger than verify.max_entry"), "{why}");
    m.figure(&format!(
        "zip bomb, honest headers: {} KiB inflating to {} MiB",
        size >> 10,
        BOMB >> 20
    ));
    // Lying headers (100 bytes declared): stopped by the bytes actually inflated.
    let liar = env.write("liar.zip", build(100));
    let m = env.run_measured(&["verify", liar.to_str().unwrap(), "--format", "json"]);
    let why = common::reasons(&m.report());
    assert_eq!(m.code, 1, "{why}");
    assert!(!m.stderr.contains("panicked"), "{}", m.stderr);
    assert!(m.elapsed < Duration::from_secs(30), "{:?}", m.elapsed);
    assert!(m.peak < 64 << 20, "peak {} MiB", m.peak >> 20);
    m.figure(&format!("zip bomb, 100 bytes declared: {why}"));
}

/// David Fifield's "better zip bomb" (2019): every local header is quoted, in a
/// non-final stored deflate block, by the entry before it, so all entries share one
/// kernel of deflated zeros. Every CRC and size is right; only the overlap gives it away.
fn better_zip_bomb(entries: usize, kernel_zeros: u64) -> (Vec<u8>, u64) {
    let kernel = deflated_zeros(kernel_zeros >> 20);
    let names: Vec<Vec<u8>> = (0..entries)
        .map(|i| format!("part-{i:04}.bin").into_bytes())
        .collect();
    // From the last entry back: entry i inflates to header(i+1) ++ inflated(i+1).
    let mut headers: Vec<Vec<u8>> = vec![Vec::new(); entries];
    let mut heads = vec![
        Head {
            method: 8,
            crc: 0,
            csize: 0,
            usize: 0,
        };
        entries
    ];
    let mut inflated = zeros_crc(kernel_zeros);
    let mut csize = kernel.len() as u64;
    let mut usize_ = kernel_zeros;
    for i in (0..entries).rev() {
        if i + 1 < entries {
            let next = &headers[i + 1];
            let mut c = flate2::Crc::new();
            c.update(next);
            c.combine(&inflated);
            inflated = c;
            csize += 5 + next.len() as u64;
            usize_ += next.len() as u64;
        }
        heads[i] = Head {
            method: 8,
            crc: inflated.sum(),
            csize: u32::try_from(csize).unwrap(),
            usize: u32::try_from(usize_).unwrap(),
        };
        headers[i] = local_header(&names[i], b"", heads[i]);
    }
    let total: u64 = heads.iter().map(|h| u64::from(h.usize)).sum();
    let mut out = Vec::new();
    let mut central = Vec::new();
    for i in 0..entries {
        central.extend(central_header(
            &names[i],
            b"",
            heads[i],
            0o100_644,
            out.len(),
        ));
        out.extend(&headers[i]);
        if i + 1 < entries {
            // A stored, non-final block quoting the next local header.
            let len = u16::try_from(headers[i + 1].len()).unwrap();
            out.push(0);
            out.extend(len.to_le_bytes());
            out.extend((!len).to_le_bytes());
        }
    }
    out.extend(&kernel);
    let manifest = br#"{"files": []}"#;
    let mh = Head {
        method: 0,
        crc: crc(manifest),
        csize: manifest.len() as u32,
        usize: manifest.len() as u32,
    };
    central.extend(central_header(
        b"manifest.json",
        b"",
        mh,
        0o100_644,
        out.len(),
    ));
    out.extend(local_header(b"manifest.json", b"", mh));
    out.extend(manifest);
    let cd = out.len();
    out.extend(&central);
    out.extend(end_record(entries + 1, central.len(), cd));
    (out, total)
}

#[test]
fn overlapping_entries_are_refused_before_anything_is_inflated() {
    let env = Env::new();
    // Default limits (16 GiB per entry, 64 GiB in all): the overlap alone must stop it.
    let (bomb, total) = better_zip_bomb(64, 1 << 30);
    let path = env.write("better.zip", &bomb);
    let m = env.run_measured(&["verify", path.to_str().unwrap(), "--format", "json"]);
    let why = common::reasons(&m.report());
    assert_eq!(m.code, 1, "{why}");
    assert!(why.contains("overlap"), "{why}");
    assert!(m.elapsed < Duration::from_secs(10), "{:?}", m.elapsed);
    m.figure(&format!(
        "better zip bomb: {} KiB, 64 overlapping entries inflating to {} GiB",
        bomb.len() >> 10,
        total >> 30
    ));

    // Full overlap: 1,000 central-directory entries naming one local header.
    let kernel = deflated_zeros(1024);
    let h = Head {
        method: 8,
        crc: zeros_crc(1 << 30).sum(),
        csize: u32::try_from(kernel.len()).unwrap(),
        usize: 1 << 30,
    };
    let mut out = local_header(b"f0000", b"", h);
    out.extend(&kernel);
    let m = Raw::file("manifest.json", br#"{"files": []}"#.to_vec());
    let mh = Head {
        method: 0,
        crc: crc(&m.data),
        csize: 13,
        usize: 13,
    };
    let mut central = Vec::new();
    for i in 0..1000 {
        central.extend(central_header(
            format!("f{i:04}").as_bytes(),
            b"",
            h,
            0o100_644,
            0,
        ));
    }
    central.extend(central_header(&m.name, b"", mh, 0o100_644, out.len()));
    out.extend(local_header(&m.name, b"", mh));
    out.extend(&m.data);
    let cd = out.len();
    out.extend(&central);
    out.extend(end_record(1001, central.len(), cd));
    let path = env.write("full.zip", &out);
    let m = env.run_measured(&["verify", path.to_str().unwrap(), "--format", "json"]);
    let why = common::reasons(&m.report());
    assert_eq!(m.code, 1, "{why}");
    assert!(why.contains("overlap"), "{why}");
    m.figure(&format!(
        "full-overlap zip bomb: {} KiB, 1000 entries x 1 GiB",
        out.len() >> 10
    ));
}
