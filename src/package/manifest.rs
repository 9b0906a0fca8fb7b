//! The package manifest: `manifest.json` (`{"files": [{"path", "sha256"}], ...}` plus any
//! vendor fields, kept for `insight`) or `SHA256SUMS` (`sha256sum` output). Paths are
//! normalised the same way as archive entry names, and unsafe ones are refused.

use std::collections::BTreeSet;

use crate::trust::Fingerprint;

/// One file the manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub path: String,
    pub sha256: Fingerprint,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub entries: Vec<ManifestEntry>,
    /// The whole manifest.json document (vendor fields kept); `None` for SHA256SUMS.
    pub document: Option<serde_json::Value>,
}

/// A safe relative path, with a leading `./` removed; `None` when the name is empty,
/// absolute, has a `..` component, a backslash, a drive letter or a NUL.
pub(crate) fn normalise(raw: &str) -> Option<String> {
    let mut name = raw;
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name.as_bytes().get(1) == Some(&b':')
        || name.split('/').any(|c| c == "..")
        || name.split('/').any(|c| c == ".");
    (!bad).then(|| name.to_owned())
}

fn fingerprint(hex: &str, where_: &str) -> Result<Fingerprint, String> {
    if hex.len() != 64 {
        return Err(format!("{where_}: sha256 must be 64 hex digits"));
    }
    hex.parse()
        .map_err(|e: crate::trust::FingerprintError| format!("{where_}: {e}"))
}

fn check_unique(entries: &[ManifestEntry]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for e in entries {
        if !seen.insert(e.path.as_str()) {
            return Err(format!("{} is listed twice", e.path));
        }
    }
    Ok(())
}

/// `manifest.json`.
pub fn parse_manifest_json(bytes: &[u8]) -> Result<Manifest, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let files = doc
        .get("files")
        .and_then(serde_json::Value::as_array)
        .ok_or("no \"files\" array")?;
    let mut entries = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let where_ = format!("files[{i}]");
        let path = f
            .get("path")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("{where_}: no \"path\" string"))?;
        let path = normalise(path).ok_or_else(|| format!("{where_}: unsafe path {path:?}"))?;
        let hex = f
            .get("sha256")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("{where_}: no \"sha256\" string"))?;
        entries.push(ManifestEntry {
            path,
            sha256: fingerprint(hex, &where_)?,
        });
    }
    check_unique(&entries)?;
    Ok(Manifest {
        entries,
        document: Some(doc),
    })
}

/// `SHA256SUMS`: lines of `<64 hex><space><space or *><path>`.
pub fn parse_sha256sums(bytes: &[u8]) -> Result<Manifest, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "SHA256SUMS is not UTF-8".to_owned())?;
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let where_ = format!("line {}", n + 1);
        let (hex, rest) = line
            .split_at_checked(64)
            .ok_or_else(|| format!("{where_}: expected `<sha256>  <path>`"))?;
        let path = rest
            .strip_prefix("  ")
            .or_else(|| rest.strip_prefix(" *"))
            .ok_or_else(|| format!("{where_}: expected two spaces or \" *\" after the hash"))?;
        let path = normalise(path).ok_or_else(|| format!("{where_}: unsafe path {path:?}"))?;
        entries.push(ManifestEntry {
            path,
            sha256: fingerprint(hex, &where_)?,
        });
    }
    check_unique(&entries)?;
    Ok(Manifest {
        entries,
        document: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6";

    #[test]
    fn names() {
        assert_eq!(normalise("./bin/x").as_deref(), Some("bin/x"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a\\b",
            "C:/x",
            "a/./b",
            "x\0",
        ] {
            assert_eq!(normalise(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_manifest() {
        let m = parse_manifest_json(
            format!(
                r#"{{"name":"x","files":[{{"path":"./bin/a","sha256":"{}"}}]}}"#,
                H.to_uppercase()
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.entries[0].path, "bin/a");
        assert_eq!(m.entries[0].sha256.to_hex(), H);
        assert_eq!(m.document.unwrap()["name"], "x");
        for bad in [
            "{}".to_owned(),
            "[]".to_owned(),
            "not json".to_owned(),
            r#"{"files":[{"path":"a"}]}"#.to_owned(),
            r#"{"files":[{"path":"a","sha256":"abc"}]}"#.to_owned(),
            format!(r#"{{"files":[{{"path":"../a","sha256":"{H}"}}]}}"#),
            format!(
                r#"{{"files":[{{"path":"a","sha256":"{H}"}},{{"path":"./a","sha256":"{H}"}}]}}"#
            ),
        ] {
            assert!(parse_manifest_json(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn sha256sums() {
        let m =
            parse_sha256sums(format!("{H}  bin/a\n\n{H} *scripts/b.sh\r\n").as_bytes()).unwrap();
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries[1].path, "scripts/b.sh");
        let err = parse_sha256sums(format!("{H}  a\nnonsense\n").as_bytes()).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(parse_sha256sums(format!("{H} a").as_bytes()).is_err());
        assert!(parse_sha256sums(b"\xff\xfe").is_err());
    }
}
