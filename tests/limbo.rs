//! x509-limbo conformance run of our path-validation layer
//! (`trustwatch::verify::chain::validate_path`, the same webpki search `build_chain`
//! uses), over the non-TLS subset in `../shared/corpus/x509-limbo/`.
//!
//! Per case (as rustls-webpki's own harness does): SKIP features we do not implement
//! (CRLs, max chain depth, policy constraints, DN name constraints, leaf keyUsage or
//! signature-algorithm requirements, CLIENT validation, several requested EKUs); decode
//! the PEMs; validate at `validation_time` (or now); ignore `expected_peer_name` (we
//! validate code-signing chains, not TLS names); compare with `expected_result`.
//! The limbo leaves carry serverAuth, so the EKU policy is the case's own
//! `extended_key_usage` (none requested: `EkuPolicy::Off`), never our codeSigning rule.
//!
//! Known divergences live in `tests/limbo-exceptions.json` (`{"id": "reason"}`). The
//! test fails on a divergence not listed there, and on a listed case that now agrees
//! (or is no longer run), so the file stays exact. `LIMBO_WRITE=1` regenerates
//! `tests/limbo-results.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use trustwatch::verify::chain::{validate_path, EkuPolicy};

const SUITE: &str = "x509-limbo/limbo.non-tls-subset.json";
const EXCEPTIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/limbo-exceptions.json");
const RESULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/limbo-results.md");

/// Features whose cases we skip, with why.
const UNSUPPORTED_FEATURES: &[(&str, &str)] = &[
    (
        "has-crl",
        "CRLs are not consulted (revocation is by anchor state)",
    ),
    (
        "max-chain-depth",
        "no configurable chain depth (webpki's fixed limit of 6 sub-CAs applies)",
    ),
    (
        "has-policy-constraints",
        "certificate policies are not processed",
    ),
    (
        "has-cert-policies",
        "certificate policies are not processed",
    ),
    ("no-cert-policies", "certificate policies are not processed"),
    (
        "name-constraint-dn",
        "directoryName constraints are not implemented by webpki",
    ),
    (
        "pedantic-public-suffix-wildcard",
        "name matching is not part of code-signing validation",
    ),
];

#[derive(Deserialize)]
struct Suite {
    testcases: Vec<Testcase>,
}

#[derive(Deserialize)]
struct Testcase {
    id: String,
    #[serde(default)]
    features: Vec<String>,
    validation_kind: String,
    trusted_certs: Vec<String>,
    untrusted_intermediates: Vec<String>,
    peer_certificate: String,
    validation_time: Option<String>,
    signature_algorithms: Vec<String>,
    key_usage: Vec<String>,
    extended_key_usage: Vec<String>,
    expected_result: String,
    #[serde(default)]
    crls: Vec<String>,
}

enum Outcome {
    Ran { passed: bool, context: String },
    Skipped(String),
}

fn corpus_file(rel: &str) -> Option<Vec<u8>> {
    [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/"),
    ]
    .iter()
    .find_map(|dir| std::fs::read(format!("{dir}{rel}")).ok())
}

fn eku_oid(name: &str) -> Option<&'static [u8]> {
    const KP: &[&[u8]] = &[
        &[0x2b, 6, 1, 5, 5, 7, 3, 1],
        &[0x2b, 6, 1, 5, 5, 7, 3, 2],
        &[0x2b, 6, 1, 5, 5, 7, 3, 3],
        &[0x2b, 6, 1, 5, 5, 7, 3, 4],
        &[0x2b, 6, 1, 5, 5, 7, 3, 8],
        &[0x2b, 6, 1, 5, 5, 7, 3, 9],
    ];
    let i = match name {
        "serverAuth" => 0,
        "clientAuth" => 1,
        "codeSigning" => 2,
        "emailProtection" => 3,
        "timeStamping" => 4,
        "OCSPSigning" => 5,
        _ => return None,
    };
    KP.get(i).copied()
}

fn pem_der(pem: &str) -> Option<CertificateDer<'static>> {
    pem_rfc7468::decode_vec(pem.trim().as_bytes())
        .ok()
        .map(|(_, der)| CertificateDer::from(der))
}

fn run_case(case: &Testcase) -> Outcome {
    if let Some((f, why)) = UNSUPPORTED_FEATURES
        .iter()
        .find(|(f, _)| case.features.iter().any(|x| x == f))
    {
        return Outcome::Skipped(format!("feature `{f}`: {why}"));
    }
    if !case.crls.is_empty() {
        return Outcome::Skipped("CRLs are not consulted".into());
    }
    if case.validation_kind != "SERVER" {
        return Outcome::Skipped("CLIENT validation is not emulated".into());
    }
    if !case.key_usage.is_empty() {
        return Outcome::Skipped(
            "leaf keyUsage requirements are not checked (webpki ignores keyUsage)".into(),
        );
    }
    if !case.signature_algorithms.is_empty() {
        return Outcome::Skipped("per-case signature algorithm lists are not supported".into());
    }
    let eku = match case.extended_key_usage.as_slice() {
        [] => EkuPolicy::Off,
        [one] => match eku_oid(one) {
            Some(oid) => EkuPolicy::IfPresent(oid),
            None => return Outcome::Skipped(format!("EKU {one} not mapped")),
        },
        _ => return Outcome::Skipped("more than one required EKU".into()),
    };
    let at = match &case.validation_time {
        Some(t) => {
            match time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
                Ok(dt) => match u64::try_from(dt.unix_timestamp()) {
                    Ok(secs) => UnixTime::since_unix_epoch(Duration::from_secs(secs)),
                    Err(_) => return Outcome::Skipped(format!("validation time {t} before 1970")),
                },
                Err(e) => return Outcome::Skipped(format!("validation time {t}: {e}")),
            }
        }
        None => UnixTime::now(),
    };
    let expected_success = case.expected_result == "SUCCESS";
    let Some(leaf) = pem_der(&case.peer_certificate) else {
        return Outcome::Ran {
            passed: !expected_success,
            context: "peer certificate PEM does not decode".into(),
        };
    };
    let anchors: Vec<_> = case
        .trusted_certs
        .iter()
        .filter_map(|p| pem_der(p))
        .collect();
    let pool: Vec<_> = case
        .untrusted_intermediates
        .iter()
        .filter_map(|p| pem_der(p))
        .collect();
    let result = validate_path(&leaf, &pool, &anchors, at, eku);
    let context = match &result {
        Ok(path) => format!("validated, path of {}", path.len()),
        Err(e) => e.to_string(),
    };
    Outcome::Ran {
        passed: result.is_ok() == expected_success,
        context,
    }
}

#[test]
fn x509_limbo_non_tls_subset() {
    let Some(json) = corpus_file(SUITE) else {
        println!("note: x509-limbo suite not found beside the repository (../shared/corpus/{SUITE}); skipping");
        return;
    };
    let suite: Suite = serde_json::from_slice(&json).expect("limbo suite parses");
    let exceptions: BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(EXCEPTIONS).expect("tests/limbo-exceptions.json exists"),
    )
    .expect("exceptions file is a JSON object of id -> reason");

    let mut passed = Vec::new();
    let mut skipped = Vec::new();
    let mut divergent = Vec::new();
    for case in &suite.testcases {
        match run_case(case) {
            Outcome::Skipped(why) => skipped.push((case.id.clone(), why)),
            Outcome::Ran { passed: true, .. } => passed.push(case.id.clone()),
            Outcome::Ran {
                passed: false,
                context,
            } => divergent.push((case.id.clone(), case.expected_result.clone(), context)),
        }
    }

    let mut problems = Vec::new();
    for (id, expected, context) in &divergent {
        if !exceptions.contains_key(id) {
            problems.push(format!(
                "{id}: expected {expected}, got: {context} (not in limbo-exceptions.json)"
            ));
        }
    }
    for id in exceptions.keys() {
        if passed.contains(id) {
            problems.push(format!(
                "{id}: listed as an exception but now passes; remove it"
            ));
        } else if !divergent.iter().any(|(d, _, _)| d == id) {
            problems.push(format!("{id}: listed as an exception but was not run"));
        }
    }

    let applicable = passed.len() + divergent.len();
    let summary = format!(
        "{} cases: {applicable} applicable, {} passed, {} divergent, {} skipped",
        suite.testcases.len(),
        passed.len(),
        divergent.len(),
        skipped.len()
    );
    println!("x509-limbo: {summary}");
    if std::env::var_os("LIMBO_WRITE").is_some_and(|v| v == "1") {
        let pass_rate = format!(
            "Pass rate over applicable cases: {}/{applicable} = {:.1}%",
            passed.len(),
            100.0 * passed.len() as f64 / applicable.max(1) as f64
        );
        let text = report(&summary, &pass_rate, &divergent, &skipped, &exceptions);
        std::fs::write(RESULTS, text).expect("write tests/limbo-results.md");
    }
    assert!(
        problems.is_empty(),
        "x509-limbo mismatches:\n{}",
        problems.join("\n")
    );
}

fn report(
    summary: &str,
    pass_rate: &str,
    divergent: &[(String, String, String)],
    skipped: &[(String, String)],
    exceptions: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# x509-limbo results (generated by `LIMBO_WRITE=1 cargo test --test limbo`)\n"
    );
    let _ = writeln!(
        out,
        "Suite: `../shared/corpus/{SUITE}` (95 cases judged applicable to a non-TLS validator)."
    );
    let _ = writeln!(out, "Layer: `verify::chain::validate_path` (rustls-webpki 0.103, `ALL_VERIFICATION_ALGS`), EKU policy = the case's own (`Off` when none requested).");
    let _ = writeln!(
        out,
        "Cases with `validation_time: null` run at the test's wall-clock time.\n"
    );
    let _ = writeln!(out, "**{summary}.**\n");
    let _ = writeln!(out, "{pass_rate}\n");
    let _ = writeln!(out, "Every divergence below is also listed in upstream rustls-webpki's `third-party/x509-limbo/exceptions.json` (rustls/webpki@059a625f), except that upstream additionally fails `rfc5280::validity::expired-root`, which we pass by checking the anchor's validity (CONTRACT §2: every certificate valid at the verification time).\n");
    let _ = writeln!(out, "## Divergences ({})\n", divergent.len());
    if divergent.is_empty() {
        let _ = writeln!(out, "None.\n");
    } else {
        let _ = writeln!(out, "| id | expected | ours | reason |\n|---|---|---|---|");
        for (id, expected, context) in divergent {
            let reason = exceptions
                .get(id)
                .map_or("**not in exceptions**", String::as_str);
            let _ = writeln!(
                out,
                "| `{id}` | {expected} | {} | {reason} |",
                context.replace('|', "\\|")
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Skipped ({})\n", skipped.len());
    let _ = writeln!(out, "| id | why |\n|---|---|");
    for (id, why) in skipped {
        let _ = writeln!(out, "| `{id}` | {why} |");
    }
    out
}
