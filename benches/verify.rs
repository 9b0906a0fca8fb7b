//! Benchmarks of the verification paths (README "Performance"): chain validation
//! (rustls-webpki path building behind `verify::chain`), SHA-256 of an in-memory
//! buffer, and the package verifier over a zip (`verify::gather` streams and hashes
//! every entry, then `verify::decide`).
//!
//! Everything is made at setup: a root CA, an intermediate and a code-signing leaf with
//! rcgen, a zip of incompressible payload with a `manifest.json` and a raw ECDSA P-256
//! signature over it (`manifest.json.sig`, ring, as `openssl dgst -sha256 -sign` writes
//! it). Only the library's public API is used.

use std::hint::black_box;
use std::io::Write as _;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use trustwatch::package::Limits;
use trustwatch::trust::{Anchor, AnchorState, Fingerprint, TrustSnapshot};
use trustwatch::verify::chain::{self, ChainInput, ChainOutcome, EkuPolicy};
use trustwatch::verify::{self, PackageInput, Verdict};

struct Pki {
    root: CertificateDer<'static>,
    intermediate: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    leaf_key: KeyPair,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = OffsetDateTime::now_utc() - Duration::days(60);
    p.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    p.use_authority_key_identifier_extension = true;
    p
}

fn pki() -> Pki {
    let alg = &rcgen::PKCS_ECDSA_P256_SHA256;
    let root_key = KeyPair::generate_for(alg).expect("root key");
    let root_params = ca_params("Bench Root CA");
    let root = root_params.self_signed(&root_key).expect("root");
    let root_issuer = Issuer::from_params(&root_params, &root_key);

    let int_key = KeyPair::generate_for(alg).expect("intermediate key");
    let int_params = ca_params("Bench Signing CA");
    let intermediate = int_params
        .signed_by(&int_key, &root_issuer)
        .expect("intermediate");
    let int_issuer = Issuer::from_params(&int_params, &int_key);

    let leaf_key = KeyPair::generate_for(alg).expect("leaf key");
    let mut lp = CertificateParams::default();
    lp.distinguished_name
        .push(DnType::CommonName, "Bench Release Signing");
    lp.is_ca = IsCa::ExplicitNoCa;
    lp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    lp.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    lp.not_before = OffsetDateTime::now_utc() - Duration::days(30);
    lp.not_after = OffsetDateTime::now_utc() + Duration::days(365);
    lp.use_authority_key_identifier_extension = true;
    let leaf = lp.signed_by(&leaf_key, &int_issuer).expect("leaf");
    Pki {
        root: root.der().clone(),
        intermediate: intermediate.der().clone(),
        leaf: leaf.der().clone(),
        leaf_key,
    }
}

fn anchor(der: &CertificateDer<'static>, state: AnchorState) -> Anchor {
    let now = OffsetDateTime::now_utc();
    Anchor {
        sha256: Fingerprint::of(der),
        vendor: "bench".into(),
        state,
        source: "bench".into(),
        first_seen: now,
        updated: now,
        cert_der: Some(der.to_vec()),
        subject: None,
        not_after: None,
        revoked_reason: None,
    }
}

fn bench_chain(c: &mut Criterion) {
    let pki = pki();
    let at = UnixTime::now();
    let pool = vec![pki.intermediate.clone()];
    let mut g = c.benchmark_group("chain");

    let anchors_der = [pki.root.clone()];
    let path = chain::validate_path(&pki.leaf, &pool, &anchors_der, at, EkuPolicy::CODE_SIGNING)
        .expect("the bench chain validates");
    assert_eq!(path.len(), 3);
    g.bench_function("validate_path/leaf-intermediate-root", |b| {
        b.iter(|| {
            chain::validate_path(
                black_box(&pki.leaf),
                &pool,
                &anchors_der,
                at,
                EkuPolicy::CODE_SIGNING,
            )
        });
    });

    // The trust-store layer: approved first, then candidates, revoked ones refused.
    let mut anchors = vec![anchor(&pki.root, AnchorState::Approved)];
    for i in 0..3 {
        // Unrelated anchors a real store also holds.
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let other = ca_params(&format!("Other Vendor Root {i}"))
            .self_signed(&key)
            .expect("other root");
        anchors.push(anchor(other.der(), AnchorState::Candidate));
    }
    let input = ChainInput {
        leaf: &pki.leaf,
        pool: &pool,
        anchors: &anchors,
        at,
    };
    assert!(matches!(
        chain::build_chain(&input),
        ChainOutcome::Reached {
            state: AnchorState::Approved,
            ..
        }
    ));
    g.bench_function("build_chain/approved-of-4-anchors", |b| {
        b.iter(|| chain::build_chain(black_box(&input)));
    });
    g.finish();
}

/// Deterministic incompressible bytes (xorshift64*), so deflate cannot shrink them.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        out.extend_from_slice(&s.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn bench_sha256(c: &mut Criterion) {
    let mut g = c.benchmark_group("sha256");
    for size in [64 << 10, 4 << 20] {
        let buf = noise(size, 7);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("digest", size), &buf, |b, buf| {
            b.iter(|| Sha256::digest(black_box(buf)));
        });
    }
    g.finish();
}

/// A signed zip package of `files` incompressible files of `size` bytes each.
fn write_package(path: &std::path::Path, pki: &Pki, files: usize, size: usize) {
    let payload: Vec<(String, Vec<u8>)> = (0..files)
        .map(|i| (format!("bin/part-{i}.bin"), noise(size, 11 + i as u64)))
        .collect();
    let list: Vec<_> = payload
        .iter()
        .map(|(p, d)| serde_json::json!({"path": p, "sha256": hex::encode(Sha256::digest(d))}))
        .collect();
    let manifest = serde_json::to_vec_pretty(&serde_json::json!({
        "name": "bench-package", "version": "1.0.0", "files": list,
    }))
    .expect("manifest json");
    let rng = ring::rand::SystemRandom::new();
    let kp = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &pki.leaf_key.serialize_der(),
        &rng,
    )
    .expect("ring reads rcgen's PKCS#8");
    let sig = kp.sign(&rng, &manifest).expect("ECDSA signature");
    let chain_pem: String = [&pki.leaf, &pki.intermediate]
        .iter()
        .map(|d| {
            pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, d)
                .expect("PEM encoding")
        })
        .collect();

    let file = std::fs::File::create(path).expect("create the bench zip");
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut put = |name: &str, data: &[u8]| {
        zip.start_file(name, opts).expect("zip entry");
        zip.write_all(data).expect("zip write");
    };
    for (name, data) in &payload {
        put(name, data);
    }
    put("manifest.json", &manifest);
    put("manifest.json.sig", sig.as_ref());
    put("certs/chain.pem", chain_pem.as_bytes());
    zip.finish().expect("zip finish");
}

fn bench_package(c: &mut Criterion) {
    let pki = pki();
    let dir = tempfile::tempdir().expect("temp dir");
    let limits = Limits {
        max_entry: 1 << 34,
        max_total: 1 << 36,
        max_entries: 10_000,
        max_metadata: 16 << 20,
    };
    let snapshot = TrustSnapshot {
        anchors: vec![anchor(&pki.root, AnchorState::Approved)],
    };
    let at = UnixTime::now();
    let mut g = c.benchmark_group("package");
    g.sample_size(10);
    for (label, files, size) in [("100KiB", 1, 100 << 10), ("16MiB", 4, 4 << 20)] {
        let path = dir.path().join(format!("{label}.zip"));
        write_package(&path, &pki, files, size);
        let ev = verify::gather(PackageInput::Zip(&path), &limits);
        let report = verify::decide(&ev, &snapshot, None, at);
        assert_eq!(
            report.verdict,
            Verdict::Trusted,
            "bench package: {:?}",
            report.reasons
        );
        g.throughput(Throughput::Bytes((files * size) as u64));
        g.bench_function(BenchmarkId::new("gather_decide", label), |b| {
            b.iter(|| {
                let ev = verify::gather(PackageInput::Zip(black_box(&path)), &limits);
                verify::decide(&ev, &snapshot, None, at).verdict
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench_chain, bench_sha256, bench_package);
criterion_main!(benches);
