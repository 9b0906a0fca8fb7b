//! Hostile packages against the real binary: memory stays flat on a huge entry, a zip
//! bomb is stopped by the bytes actually inflated, and garbage in every slot gives a
//! clear `invalid`, never a panic.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Alg, Env, Pki, SigForm, ZipSpec};

/// Run the binary and sample its peak resident memory (VmHWM) until it exits.
fn run_measuring(env: &Env, args: &[&str]) -> (i32, u64, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustwatch"))
        .arg("--config")
        .arg(env.path("trustwatch.toml"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(v) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(v);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    (status.code().unwrap_or(-1), peak_kib * 1024, out)
}

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

    let (code, peak, out) = run_measuring(
        &env,
        &["verify", zip_path.to_str().unwrap(), "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
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
