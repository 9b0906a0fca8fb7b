//! What a manifest says an operator must act on: reboots, loosely constrained
//! dependency versions, removed and newly required configuration keys, and any notices
//! the vendor wrote. Vendor manifests are cryptic and inconsistent, so every field is
//! read leniently: an unexpected shape is ignored, never an error (the signature, not
//! this summary, decides trust).

use serde::Serialize;
use serde_json::Value;

use super::Manifest;

/// The `manifest` object of CONTRACT §2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManifestSummary {
    pub name: Option<String>,
    pub version: Option<String>,
    /// `required`, `recommended`, `no`, or the vendor's own word.
    pub reboot: Option<String>,
    /// One sentence per thing an operator must act on.
    pub notices: Vec<String>,
}

/// At most this many notices (a hostile manifest could list millions of keys).
const MAX_NOTICES: usize = 100;

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn value_text(v: &Value) -> String {
    text(v).unwrap_or_else(|| v.to_string())
}

/// Whether a version constraint leaves the upper end open (`*`, `latest`, `>=2`, `>1.0`,
/// empty): such a dependency can move under the operator's feet.
pub fn is_loose(constraint: &str) -> bool {
    let c = constraint.trim();
    if c.is_empty() || c == "*" || c.eq_ignore_ascii_case("latest") || c.eq_ignore_ascii_case("any")
    {
        return true;
    }
    let parts: Vec<&str> = c.split(',').map(str::trim).collect();
    parts.iter().all(|p| p.starts_with('>'))
}

fn reboot(v: &Value) -> Option<String> {
    match v {
        Value::Bool(true) => Some("required".into()),
        Value::Bool(false) => Some("no".into()),
        Value::String(s) => Some(s.trim().to_ascii_lowercase()),
        Value::Object(o) => {
            let word = if o.get("required").and_then(Value::as_bool) == Some(true) {
                "required".to_owned()
            } else if o.get("recommended").and_then(Value::as_bool) == Some(true) {
                "recommended".to_owned()
            } else {
                o.get("mode").or_else(|| o.get("type")).and_then(text)?
            };
            match o.get("reason").and_then(text) {
                Some(r) => Some(format!("{word} ({r})")),
                None => Some(word),
            }
        }
        _ => None,
    }
}

fn dependencies(v: &Value, notices: &mut Vec<String>) {
    let pairs: Vec<(String, String)> = match v {
        Value::Object(o) => o.iter().map(|(k, c)| (k.clone(), value_text(c))).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|d| {
                let name = d.get("name").and_then(text)?;
                let c = d
                    .get("version")
                    .or_else(|| d.get("constraint"))
                    .map(value_text)
                    .unwrap_or_default();
                Some((name, c))
            })
            .collect(),
        _ => Vec::new(),
    };
    for (name, c) in pairs {
        if is_loose(&c) {
            let shown = if c.trim().is_empty() {
                "any version".to_owned()
            } else {
                format!("\"{c}\"")
            };
            notices.push(format!(
                "dependency {name} is loosely constrained ({shown}): pin the version you tested"
            ));
        }
    }
}

fn keys(v: Option<&Value>) -> Vec<(String, Option<String>)> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(text).map(|k| (k, None)).collect(),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| (k.clone(), Some(value_text(v))))
            .collect(),
        Some(Value::String(s)) => vec![(s.clone(), None)],
        _ => Vec::new(),
    }
}

fn config(v: &Value, notices: &mut Vec<String>) {
    let Value::Object(o) = v else { return };
    for field in ["removed", "deprecated"] {
        for (key, _) in keys(o.get(field)) {
            notices.push(format!(
                "config key {key} was {field}: delete it from your configuration"
            ));
        }
    }
    for field in ["required", "added", "new"] {
        for (key, value) in keys(o.get(field)) {
            notices.push(match value {
                Some(v) => format!("config key {key} must be set to {v} before upgrading"),
                None => format!("config key {key} must be set before upgrading"),
            });
        }
    }
}

pub fn summarize(manifest: &Manifest) -> ManifestSummary {
    let mut s = ManifestSummary::default();
    let Some(Value::Object(doc)) = &manifest.document else {
        return s;
    };
    s.name = doc.get("name").and_then(text);
    s.version = doc.get("version").and_then(text);
    if let Some(r) = doc.get("reboot").and_then(reboot) {
        if r.starts_with("required") || r.starts_with("recommended") {
            s.notices.push(format!("reboot {r} after installing"));
        }
        s.reboot = Some(r);
    }
    if let Some(d) = doc.get("dependencies") {
        dependencies(d, &mut s.notices);
    }
    if let Some(c) = doc.get("config") {
        config(c, &mut s.notices);
    }
    for field in ["notices", "breaking_changes"] {
        if let Some(Value::Array(a)) = doc.get(field) {
            s.notices.extend(a.iter().filter_map(text));
        }
    }
    s.notices.truncate(MAX_NOTICES);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(json: &str) -> ManifestSummary {
        summarize(&Manifest {
            entries: Vec::new(),
            document: Some(serde_json::from_str(json).unwrap()),
        })
    }

    #[test]
    fn a_cryptic_vendor_manifest() {
        let s = summary(
            r#"{"name":"dten-full-upgrade","version":"7.4.0-rc2","reboot":"Required",
               "dependencies":{"dten-runtime":">=2","libdtenhw":"*","openssl":">=3.0,<4","zlib":"1.3.1"},
               "config":{"removed":["dten.legacy.discovery"],"required":{"dten.hybrid.enable":true}},
               "notices":["Firmware downgrade is not possible after this release"]}"#,
        );
        assert_eq!(s.name.as_deref(), Some("dten-full-upgrade"));
        assert_eq!(s.version.as_deref(), Some("7.4.0-rc2"));
        assert_eq!(s.reboot.as_deref(), Some("required"));
        let all = s.notices.join("\n");
        assert!(all.contains("reboot required"), "{all}");
        assert!(
            all.contains("dependency dten-runtime is loosely constrained (\">=2\")"),
            "{all}"
        );
        assert!(
            all.contains("dependency libdtenhw is loosely constrained"),
            "{all}"
        );
        assert!(!all.contains("openssl"), "{all}");
        assert!(!all.contains("zlib"), "{all}");
        assert!(
            all.contains("config key dten.legacy.discovery was removed"),
            "{all}"
        );
        assert!(
            all.contains("config key dten.hybrid.enable must be set to true before upgrading"),
            "{all}"
        );
        assert!(all.contains("Firmware downgrade"), "{all}");
    }

    #[test]
    fn other_shapes() {
        let s = summary(
            r#"{"version":7,"reboot":{"recommended":true,"reason":"kernel module"},
               "dependencies":[{"name":"agent","version":"latest"},{"name":"fw","version":"=2.1.0"},{"name":"x"}],
               "config":{"deprecated":"a.b","added":["c.d"]}}"#,
        );
        assert_eq!(s.version.as_deref(), Some("7"));
        assert_eq!(s.reboot.as_deref(), Some("recommended (kernel module)"));
        let all = s.notices.join("\n");
        assert!(
            all.contains("dependency agent is loosely constrained"),
            "{all}"
        );
        assert!(
            all.contains("dependency x is loosely constrained (any version)"),
            "{all}"
        );
        assert!(!all.contains("dependency fw"), "{all}");
        assert!(all.contains("config key a.b was deprecated"), "{all}");
        assert!(
            all.contains("config key c.d must be set before upgrading"),
            "{all}"
        );
        let s = summary(r#"{"reboot":false,"dependencies":"weird","config":[1,2]}"#);
        assert_eq!(s.reboot.as_deref(), Some("no"));
        assert!(s.notices.is_empty());
        assert_eq!(
            summarize(&Manifest {
                entries: vec![],
                document: None
            }),
            ManifestSummary::default()
        );
    }

    #[test]
    fn loose_constraints() {
        for c in ["", "*", "latest", ">=2", ">1.0", ">=1.2, >=1.3"] {
            assert!(is_loose(c), "{c}");
        }
        for c in ["1.2.3", "=1.2.3", "~1.2", "^1.2", ">=1,<2", "<3"] {
            assert!(!is_loose(c), "{c}");
        }
    }
}
