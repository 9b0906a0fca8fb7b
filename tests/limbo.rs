//! x509-limbo: the applicable path-validation cases run through the same chain layer
//! `verify` uses (`verify::chain::validate_path`, rustls-webpki underneath).
//!
//! The suite is `../shared/corpus/x509-limbo/limbo.non-tls-subset.json` (95 cases judged
//! independent of TLS names; see that folder's README). Every case there requests no EKU
//! and its leaves carry serverAuth, so the EKU policy is off here; name matching is not
//! done. Cases tagged with features we do not implement (CRLs, max chain depth, leaf
//! keyUsage requirements) are skipped with the reason. Known divergences live in
//! `tests/limbo-exceptions.json` with a reason each; the test fails on a divergence that
//! is not listed and on a listed one that no longer diverges. `LIMBO_WRITE=1` rewrites
//! `tests/limbo-results.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use trustwatch::verify::chain::{validate_path, EkuPolicy};

#[derive(Deserialize)]
struct Suite {
    testcases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    #[serde(default)]
    features: Vec<String>,
    trusted_certs: Vec<String>,
    untrusted_intermediates: Vec<String>,
    peer_certificate: String,
    validation_time: Option<String>,
    key_usage: Vec<String>,
    signature_algorithms: Vec<String>,
    expected_result: String,
    max_chain_depth: Option<u32>,
}

fn skip_reason(c: &Case) -> Option<String> {
    for f in &c.features {
        match f.as_str() {
            "has-crl" => {
                return Some("CRLs are not consumed (revocation comes from the store)".into())
            }
            "max-chain-depth" => return Some("no max-chain-depth option".into()),
            _ => {}
        }
    }
    if c.max_chain_depth.is_some() {
        return Some("no max-chain-depth option".into());
    }
    if !c.key_usage.is_empty() {
        return Some("leaf keyUsage requirements are not configurable".into());
    }
    if !c.signature_algorithms.is_empty() {
        return Some("signature algorithm sets are fixed".into());
    }
    None
}

fn certs(pems: &[String]) -> Vec<CertificateDer<'static>> {
    pems.iter()
        .filter_map(|p| trustwatch::trust::import::parse_certificates(p.as_bytes()).ok())
        .flatten()
        .collect()
}

fn run(c: &Case) -> Result<(), String> {
    let leaf = trustwatch::trust::import::parse_certificates(c.peer_certificate.as_bytes())
        .map_err(|e| format!("leaf: {e}"))?
        .into_iter()
        .next()
        .ok_or("no leaf")?;
    let at = match &c.validation_time {
        Some(t) => {
            let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|e| e.to_string())?;
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                u64::try_from(t.unix_timestamp()).map_err(|e| e.to_string())?,
            ))
        }
        None => UnixTime::now(),
    };
    validate_path(
        &leaf,
        &certs(&c.untrusted_intermediates),
        &certs(&c.trusted_certs),
        at,
        EkuPolicy::Off,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn limbo_applicable_cases() {
    let root = env!("CARGO_MANIFEST_DIR");
    let path = format!("{root}/../shared/corpus/x509-limbo/limbo.non-tls-subset.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("x509-limbo corpus not found at {path}: skipped");
        return;
    };
    let suite: Suite = serde_json::from_str(&text).unwrap();
    let exceptions: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/tests/limbo-exceptions.json")).unwrap(),
    )
    .unwrap();

    let (mut passed, mut skipped, mut diverged) = (0, Vec::new(), Vec::new());
    let mut unexpected = Vec::new();
    for c in &suite.testcases {
        if let Some(reason) = skip_reason(c) {
            skipped.push((c.id.clone(), reason));
            continue;
        }
        let result = run(c);
        let actual = if result.is_ok() { "SUCCESS" } else { "FAILURE" };
        let agrees = actual == c.expected_result;
        match (agrees, exceptions.get(&c.id)) {
            (true, None) => passed += 1,
            (true, Some(_)) => {
                unexpected.push(format!("{}: listed as an exception but now agrees", c.id))
            }
            (false, Some(reason)) => diverged.push((
                c.id.clone(),
                c.expected_result.clone(),
                result.err(),
                reason.clone(),
            )),
            (false, None) => unexpected.push(format!(
                "{}: expected {}, got {actual} ({:?})",
                c.id,
                c.expected_result,
                result.err()
            )),
        }
    }
    let run_count = suite.testcases.len() - skipped.len();
    if std::env::var_os("LIMBO_WRITE").is_some() {
        let mut md = String::new();
        let _ = writeln!(md, "# x509-limbo results\n");
        let _ = writeln!(md, "Generated by `LIMBO_WRITE=1 cargo test --test limbo` over `../shared/corpus/x509-limbo/limbo.non-tls-subset.json` ({} cases), through `verify::chain::validate_path` (rustls-webpki 0.103, EKU policy off, no name matching).\n", suite.testcases.len());
        let _ = writeln!(md, "- run: {run_count}\n- agree with the expected result: {passed} ({:.1}%)\n- known divergences: {}\n- skipped: {}\n", 100.0 * f64::from(passed) / run_count.max(1) as f64, diverged.len(), skipped.len());
        let _ = writeln!(
            md,
            "## Divergences\n\n| case | expected | our error | why |\n|---|---|---|---|"
        );
        for (id, exp, err, why) in &diverged {
            let _ = writeln!(
                md,
                "| `{id}` | {exp} | {} | {why} |",
                err.as_deref().unwrap_or("(accepted)").replace('|', "/")
            );
        }
        let _ = writeln!(md, "\n## Skipped\n\n| case | why |\n|---|---|");
        for (id, why) in &skipped {
            let _ = writeln!(md, "| `{id}` | {why} |");
        }
        std::fs::write(format!("{root}/tests/limbo-results.md"), md).unwrap();
    }
    eprintln!(
        "limbo: {passed}/{run_count} agree, {} known divergences, {} skipped",
        diverged.len(),
        skipped.len()
    );
    assert!(
        unexpected.is_empty(),
        "unexpected limbo results:\n{}",
        unexpected.join("\n")
    );
}
