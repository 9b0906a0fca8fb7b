//! Shared test support: a PKI made with rcgen at test time, package builders (zip and
//! detached), signatures made by the real `openssl` CLI (CMS) and by ring (raw), and a
//! runner for the real `trustwatch` binary against a store in a temp dir.
#![allow(dead_code, unreachable_pub)]

pub mod bot;
pub mod discord;
pub mod gateway;
pub mod http;
pub mod runbot;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    P256,
    P384,
    Ed25519,
    Rsa2048,
}

impl Alg {
    pub const ALL: [Self; 4] = [Self::P256, Self::P384, Self::Ed25519, Self::Rsa2048];
}

/// An RSA-2048 PKCS#8 key made once per test binary by the openssl CLI (ring, which rcgen
/// uses here, cannot generate RSA keys).
fn rsa_key_pem() -> String {
    static KEYS: OnceLock<std::sync::Mutex<Vec<String>>> = OnceLock::new();
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl is required for the tests (apt-get install openssl)");
    assert!(out.status.success(), "openssl genpkey failed");
    let pem = String::from_utf8(out.stdout).unwrap();
    KEYS.get_or_init(Default::default)
        .lock()
        .unwrap()
        .push(pem.clone());
    pem
}

pub fn key_for(alg: Alg) -> KeyPair {
    match alg {
        Alg::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        Alg::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        Alg::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
        Alg::Rsa2048 => {
            KeyPair::from_pem_and_sign_algo(&rsa_key_pem(), &rcgen::PKCS_RSA_SHA256).unwrap()
        }
    }
}

/// A certificate with its key.
pub struct Identity {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub der: Vec<u8>,
    pub alg: Alg,
}

impl Identity {
    pub fn pem(&self) -> String {
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &self.der).unwrap()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// A root CA.
    pub fn root(cn: &str, alg: Alg) -> Self {
        let mut params = ca_params(cn, None);
        params.not_before = OffsetDateTime::now_utc() - Duration::days(365);
        let key = key_for(alg);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Self {
            params,
            key,
            der,
            alg,
        }
    }

    /// An intermediate CA under `self` (no EKU extension).
    pub fn intermediate(&self, cn: &str, alg: Alg, path_len: Option<u8>) -> Self {
        self.issue(ca_params(cn, path_len), alg)
    }

    /// A code-signing leaf under `self`.
    pub fn leaf(&self, cn: &str, alg: Alg) -> Self {
        self.leaf_with(cn, alg, |_| {})
    }

    /// A leaf with its parameters adjusted by `f` (EKU, validity, CA flag...).
    pub fn leaf_with(&self, cn: &str, alg: Alg, f: impl FnOnce(&mut CertificateParams)) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "DTEN Test");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.not_before = OffsetDateTime::now_utc() - Duration::days(30);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(365);
        params.use_authority_key_identifier_extension = true;
        f(&mut params);
        self.issue(params, alg)
    }

    /// Issue any certificate under `self` with a fresh key of `alg`.
    pub fn issue(&self, params: CertificateParams, alg: Alg) -> Self {
        let key = key_for(alg);
        let der = params
            .signed_by(&key, &self.issuer())
            .unwrap()
            .der()
            .to_vec();
        Self {
            params,
            key,
            der,
            alg,
        }
    }

    /// `other`'s subject and key, certified by `self` (a cross-signature).
    pub fn cross_sign(&self, other: &Self) -> Vec<u8> {
        let mut params = other.params.clone();
        params.use_authority_key_identifier_extension = true;
        params
            .signed_by(&other.key, &self.issuer())
            .unwrap()
            .der()
            .to_vec()
    }
}

pub fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "DTEN Test");
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = OffsetDateTime::now_utc() - Duration::days(60);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    params.use_authority_key_identifier_extension = true;
    params
}

/// A root, an intermediate and a code-signing leaf, all of one algorithm.
pub struct Pki {
    pub root: Identity,
    pub intermediate: Identity,
    pub leaf: Identity,
}

impl Pki {
    pub fn new(alg: Alg) -> Self {
        let root = Identity::root("DTEN Test Root", alg);
        let intermediate = root.intermediate("DTEN Test Signing CA", alg, Some(0));
        let leaf = intermediate.leaf("DTEN Test Release Signing", alg);
        Self {
            root,
            intermediate,
            leaf,
        }
    }
}

pub fn pem_bundle(ders: &[&[u8]]) -> String {
    ders.iter()
        .map(|d| pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, d).unwrap())
        .collect()
}

/// How the manifest is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigForm {
    /// `openssl cms -sign -binary -outform DER`.
    CmsDer,
    /// `openssl cms -sign -binary -outform PEM`.
    CmsPem,
    /// A raw signature (ring): ECDSA ASN.1, Ed25519, RSA PKCS#1 v1.5 SHA-256.
    Raw,
}

fn tool(name: &str) -> Command {
    Command::new(name)
}

/// Sign `content` with the openssl CLI as vendors do; `extra` are certificates to
/// include (`-certfile`), `args` more flags (`-md sha384`, `-keyopt ...`).
pub fn openssl_cms(
    signer: &Identity,
    extra: &[&[u8]],
    content: &[u8],
    pem: bool,
    args: &[&str],
) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("content"), content).unwrap();
    std::fs::write(p("signer.pem"), signer.pem()).unwrap();
    std::fs::write(p("signer.key"), signer.key_pem()).unwrap();
    let mut cmd = tool("openssl");
    cmd.args(["cms", "-sign", "-binary"])
        .arg("-in")
        .arg(p("content"))
        .arg("-signer")
        .arg(p("signer.pem"))
        .arg("-inkey")
        .arg(p("signer.key"))
        .args(["-outform", if pem { "PEM" } else { "DER" }])
        .arg("-out")
        .arg(p("sig"));
    if !extra.is_empty() {
        std::fs::write(p("extra.pem"), pem_bundle(extra)).unwrap();
        cmd.arg("-certfile").arg(p("extra.pem"));
    }
    cmd.args(args);
    let out = cmd.output().expect("openssl is required for the tests");
    assert!(
        out.status.success(),
        "openssl cms -sign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(p("sig")).unwrap()
}

/// A raw signature over `content` with ring.
pub fn raw_sign(signer: &Identity, content: &[u8]) -> Vec<u8> {
    use ring::signature::{self as sig, KeyPair as _};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = signer.key.serialize_der();
    match signer.alg {
        Alg::P256 | Alg::P384 => {
            let alg = if signer.alg == Alg::P256 {
                &sig::ECDSA_P256_SHA256_ASN1_SIGNING
            } else {
                &sig::ECDSA_P384_SHA384_ASN1_SIGNING
            };
            let kp = sig::EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &rng).unwrap();
            kp.sign(&rng, content).unwrap().as_ref().to_vec()
        }
        Alg::Ed25519 => {
            let kp = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).unwrap();
            let _ = kp.public_key();
            kp.sign(content).as_ref().to_vec()
        }
        Alg::Rsa2048 => {
            let kp = sig::RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
            let mut out = vec![0; kp.public().modulus_len()];
            kp.sign(&sig::RSA_PKCS1_SHA256, &rng, content, &mut out)
                .unwrap();
            out
        }
    }
}

/// Sign `content` in `form`, with `extra` certificates carried inside a CMS signature.
/// Ed25519 CMS cannot be made by OpenSSL 3.0, so it is not offered here.
pub fn sign(form: SigForm, signer: &Identity, extra: &[&[u8]], content: &[u8]) -> Vec<u8> {
    match form {
        SigForm::CmsDer => openssl_cms(signer, extra, content, false, &[]),
        SigForm::CmsPem => openssl_cms(signer, extra, content, true, &[]),
        SigForm::Raw => raw_sign(signer, content),
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A manifest.json listing `files`, with a few vendor fields.
pub fn manifest_json(files: &[(&str, &[u8])]) -> Vec<u8> {
    let list: Vec<_> = files
        .iter()
        .map(|(p, d)| serde_json::json!({"path": p, "sha256": sha256_hex(d)}))
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({
        "name": "dten-full-upgrade",
        "version": "7.4.0",
        "reboot": "required",
        "files": list,
    }))
    .unwrap()
}

/// Write a zip with `entries` (name, bytes), deflated.
pub fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
}

/// The standard payload of a test package.
pub fn payload() -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "bin/dten-agent".into(),
            b"\x7fELF pretend binary".repeat(500),
        ),
        (
            "scripts/install.sh".into(),
            b"#!/bin/sh\necho install\n".to_vec(),
        ),
        ("README.txt".into(), b"DTEN full upgrade".to_vec()),
    ]
}

/// A signed zip package: payload + manifest.json + signature + certs/chain.pem.
pub struct ZipSpec<'a> {
    pub signer: &'a Identity,
    /// Certificates shipped in `certs/chain.pem`.
    pub chain: Vec<&'a [u8]>,
    pub form: SigForm,
    pub folder: Option<&'a str>,
    pub payload: Vec<(String, Vec<u8>)>,
}

impl<'a> ZipSpec<'a> {
    pub fn new(pki: &'a Pki, form: SigForm) -> Self {
        Self {
            signer: &pki.leaf,
            chain: vec![&pki.intermediate.der],
            form,
            folder: None,
            payload: payload(),
        }
    }

    /// The archive entries, before any tampering.
    pub fn entries(&self) -> Vec<(String, Vec<u8>)> {
        let files: Vec<(&str, &[u8])> = self
            .payload
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        let manifest = manifest_json(&files);
        let sig = match self.form {
            SigForm::Raw => raw_sign(self.signer, &manifest),
            form => sign(form, self.signer, &[], &manifest),
        };
        let sig_name = if self.form == SigForm::Raw {
            "manifest.json.sig"
        } else {
            "manifest.json.p7s"
        };
        let mut certs: Vec<&[u8]> = self.chain.clone();
        certs.insert(0, &self.signer.der);
        let mut entries = self.payload.clone();
        entries.push(("manifest.json".into(), manifest));
        entries.push((sig_name.into(), sig));
        entries.push(("certs/chain.pem".into(), pem_bundle(&certs).into_bytes()));
        if let Some(folder) = self.folder {
            for (name, _) in &mut entries {
                *name = format!("{folder}/{name}");
            }
        }
        entries
    }

    pub fn write(&self, path: &Path) {
        write_zip(path, &self.entries());
    }
}

/// A temp dir with a config and a store, and a runner for the real binary.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[store]\npath = {:?}\n\n[[vendor]]\nname = \"dten\"\ncontact = \"security@dten.example\"\nadvisory_url = \"https://dten.example/security\"\n\n[[vendor]]\nname = \"acme\"\n",
            dir.path().join("data").display().to_string()
        );
        std::fs::write(dir.path().join("trustwatch.toml"), config).unwrap();
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }

    /// Run `trustwatch --config <env config> ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_trustwatch"))
            .arg("--config")
            .arg(self.path("trustwatch.toml"))
            .args(args)
            .env_remove("TRUSTWATCH_CONFIG")
            .env_remove("TRUSTWATCH_DATA_DIR")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    /// `trust add` a certificate, asserting success.
    #[track_caller]
    pub fn trust(&self, name: &str, der: &[u8], state: &str) {
        let p = self.write(&format!("{name}.pem"), pem_bundle(&[der]));
        let out = self.run(&[
            "trust",
            "add",
            p.to_str().unwrap(),
            "--vendor",
            "dten",
            "--state",
            state,
        ]);
        assert_ok(&out);
    }

    /// `verify --format json` and return (exit code, report).
    #[track_caller]
    pub fn verify(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = vec!["verify"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "json"]);
        let out = self.run(&all);
        let code = out.status.code().unwrap_or(-1);
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verify printed no JSON ({e}); exit {code}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, json)
    }
}

/// `hex` as vendors and openssl print it: upper case, bytes joined by colons.
pub fn upper_colons(hex: &str) -> String {
    hex.to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

impl Env {
    /// `poll --once --format json`, one finding per line.
    #[track_caller]
    pub fn poll_json(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["poll", "--once", "--format", "json"]);
        assert_ok(&out);
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "command failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The verdict string of a JSON report.
pub fn verdict(report: &serde_json::Value) -> &str {
    report["verdict"].as_str().unwrap_or("(none)")
}

/// All reasons joined, for assertions on why.
pub fn reasons(report: &serde_json::Value) -> String {
    report["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

/// One run of the binary with what it cost.
#[derive(Debug)]
pub struct Measured {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: std::time::Duration,
    /// Peak resident memory (VmHWM, bytes).
    pub peak: u64,
}

impl Measured {
    /// `verify --format json`'s report.
    #[track_caller]
    pub fn report(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON ({e}); exit {}\nstdout: {}\nstderr: {}",
                self.code, self.stdout, self.stderr
            )
        })
    }

    /// A line for the test log: what the README's "Hostile input" table quotes.
    pub fn figure(&self, what: &str) {
        eprintln!(
            "FIGURE {what}: exit {}, {:.2} s, peak RSS {:.1} MiB",
            self.code,
            self.elapsed.as_secs_f64(),
            self.peak as f64 / f64::from(1u32 << 20)
        );
    }
}

impl Env {
    /// Run the binary as `run` does, sampling its peak resident memory (VmHWM from
    /// /proc) every few milliseconds until it exits. Output goes to files, so a large
    /// one cannot block the child on a full pipe.
    pub fn run_measured(&self, args: &[&str]) -> Measured {
        let out = tempfile::tempfile().unwrap();
        let err = tempfile::tempfile().unwrap();
        let start = std::time::Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_trustwatch"))
            .arg("--config")
            .arg(self.path("trustwatch.toml"))
            .args(args)
            .env_remove("TRUSTWATCH_CONFIG")
            .env_remove("TRUSTWATCH_DATA_DIR")
            .env_remove("RUST_LOG")
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
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
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        let read = |mut f: std::fs::File| {
            use std::io::{Read, Seek};
            f.rewind().unwrap();
            let mut s = Vec::new();
            f.read_to_end(&mut s).unwrap();
            String::from_utf8_lossy(&s).into_owned()
        };
        Measured {
            code: status.code().unwrap_or(-1),
            stdout: read(out),
            stderr: read(err),
            elapsed,
            peak: peak_kib * 1024,
        }
    }

    /// Append TOML to the environment's config (a `[verify]` or `[http]` table, say).
    pub fn configure(&self, extra: &str) {
        let path = self.path("trustwatch.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push('\n');
        text.push_str(extra);
        std::fs::write(path, text).unwrap();
    }
}

/// `mib` MiB of zeros as one raw deflate stream, about 1,000:1, made without compressing
/// them all: 1 MiB is compressed once with a full flush (which resets the compressor, so
/// the block never refers back before itself), that block is repeated, and an empty
/// final block ends the stream. Any inflater reads it as `mib` MiB of zeros.
pub fn deflated_zeros(mib: u64) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let mut block = Vec::with_capacity(64 << 10);
    c.compress_vec(&zeros, &mut block, FlushCompress::Full)
        .unwrap();
    assert_eq!(c.total_in(), 1 << 20, "one call compresses the whole MiB");
    let mut tail = Vec::with_capacity(64);
    c.compress_vec(&[], &mut tail, FlushCompress::Finish)
        .unwrap();
    let mut out = block.repeat(usize::try_from(mib).unwrap());
    out.extend(tail);
    out
}

/// CRC-32 of `n` zeros, from the CRC of 1 MiB combined (no pass over `n` bytes).
pub fn zeros_crc(n: u64) -> flate2::Crc {
    let mib = {
        let mut c = flate2::Crc::new();
        c.update(&vec![0u8; 1 << 20]);
        c
    };
    let mut c = flate2::Crc::new();
    for _ in 0..n >> 20 {
        c.combine(&mib);
    }
    c.update(&vec![0u8; usize::try_from(n % (1 << 20)).unwrap()]);
    c
}
