//! Discord's message limits, enforced by the fake API as the real one does: a message
//! over any limit gets 400 with Discord's "Invalid Form Body" JSON (code 50035, the
//! offending fields nested under `errors`), so every test that posts through the fake
//! also proves trustwatch stays within them. Counts are characters (code points).
//! <https://discord.com/developers/docs/resources/message#embed-object-embed-limits>
//! and the component limits of <https://discord.com/developers/docs/interactions/message-components>.

use serde_json::{json, Map, Value};

pub const CONTENT: usize = 2_000;
pub const EMBEDS: usize = 10;
pub const EMBED_TOTAL: usize = 6_000;
pub const TITLE: usize = 256;
pub const DESCRIPTION: usize = 4_096;
pub const FIELDS: usize = 25;
pub const FIELD_NAME: usize = 256;
pub const FIELD_VALUE: usize = 1_024;
pub const FOOTER: usize = 2_048;
pub const AUTHOR: usize = 256;
pub const ROWS: usize = 5;
pub const BUTTONS: usize = 5;
pub const LABEL: usize = 80;
pub const CUSTOM_ID: usize = 100;

/// One broken limit: where (`embeds.0.title`), Discord's error code, its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub code: &'static str,
    pub message: String,
}

fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn max_len(out: &mut Vec<Violation>, path: String, v: &Value, max: usize) {
    if len(v) > max {
        out.push(Violation {
            path,
            code: "BASE_TYPE_MAX_LENGTH",
            message: format!("Must be {max} or fewer in length."),
        });
    }
}

fn max_items(out: &mut Vec<Violation>, path: String, v: &Value, max: usize) -> bool {
    let n = v.as_array().map_or(0, Vec::len);
    if n > max {
        out.push(Violation {
            path,
            code: "BASE_TYPE_MAX_LENGTH",
            message: format!("Must be {max} or fewer in length."),
        });
        return false;
    }
    true
}

/// Every limit `message` (a create-message, edit or callback-data object) breaks.
pub fn violations(message: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    max_len(&mut out, "content".into(), &message["content"], CONTENT);
    let embeds = &message["embeds"];
    max_items(&mut out, "embeds".into(), embeds, EMBEDS);
    let mut total = 0;
    for (i, e) in embeds.as_array().into_iter().flatten().enumerate() {
        let p = |k: &str| format!("embeds.{i}.{k}");
        max_len(&mut out, p("title"), &e["title"], TITLE);
        max_len(&mut out, p("description"), &e["description"], DESCRIPTION);
        max_len(&mut out, p("footer.text"), &e["footer"]["text"], FOOTER);
        max_len(&mut out, p("author.name"), &e["author"]["name"], AUTHOR);
        total += len(&e["title"])
            + len(&e["description"])
            + len(&e["footer"]["text"])
            + len(&e["author"]["name"]);
        max_items(&mut out, p("fields"), &e["fields"], FIELDS);
        for (j, f) in e["fields"].as_array().into_iter().flatten().enumerate() {
            max_len(
                &mut out,
                p(&format!("fields.{j}.name")),
                &f["name"],
                FIELD_NAME,
            );
            max_len(
                &mut out,
                p(&format!("fields.{j}.value")),
                &f["value"],
                FIELD_VALUE,
            );
            if len(&f["name"]) == 0 || len(&f["value"]) == 0 {
                out.push(Violation {
                    path: p(&format!("fields.{j}")),
                    code: "BASE_TYPE_REQUIRED",
                    message: "This field is required".into(),
                });
            }
            total += len(&f["name"]) + len(&f["value"]);
        }
        if let Some(url) = e["url"].as_str() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                out.push(Violation {
                    path: p("url"),
                    code: "URL_TYPE_INVALID_URL",
                    message: "Not a well formed URL.".into(),
                });
            }
        }
    }
    if total > EMBED_TOTAL {
        out.push(Violation {
            path: "embeds".into(),
            code: "MAX_EMBED_SIZE_EXCEEDED",
            message: format!("Embed size exceeds maximum size of {EMBED_TOTAL}"),
        });
    }
    let rows = &message["components"];
    max_items(&mut out, "components".into(), rows, ROWS);
    for (i, row) in rows.as_array().into_iter().flatten().enumerate() {
        let p = format!("components.{i}.components");
        max_items(&mut out, p.clone(), &row["components"], BUTTONS);
        for (j, b) in row["components"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            max_len(
                &mut out,
                format!("{p}.{j}.custom_id"),
                &b["custom_id"],
                CUSTOM_ID,
            );
            max_len(&mut out, format!("{p}.{j}.label"), &b["label"], LABEL);
        }
    }
    out
}

/// Discord's 400 body for `violations`: `{"code": 50035, "message": "Invalid Form
/// Body", "errors": {"embeds": {"0": {"title": {"_errors": [...]}}}}}`.
pub fn error_body(violations: &[Violation]) -> Value {
    let mut errors = Map::new();
    for v in violations {
        let mut at = &mut errors;
        for seg in v.path.split('.') {
            at = at
                .entry(seg.to_owned())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("only objects are built here");
        }
        let list = at.entry("_errors").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.push(json!({"code": v.code, "message": v.message}));
        }
    }
    json!({"code": 50035, "message": "Invalid Form Body", "errors": errors})
}

/// Panics naming every broken limit of an immediate interaction answer (what an HTTP
/// endpoint returns in its body, which never reaches the fake): `{type, data}`.
#[track_caller]
pub fn assert_response_within(response: &Value) {
    let v = violations(&response["data"]);
    assert!(v.is_empty(), "over Discord's limits: {v:#?}\n{response:#}");
}
