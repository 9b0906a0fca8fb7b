//! Request bodies as the fake API records them: JSON, or multipart/form-data (what
//! serenity sends when files are attached) split into `payload_json` and file parts.

use super::{Body, FilePart};

pub(super) fn parse_body(content_type: Option<&str>, bytes: &[u8]) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    if let Some(boundary) = content_type
        .filter(|ct| ct.starts_with("multipart/form-data"))
        .and_then(|ct| ct.split("boundary=").nth(1))
    {
        return parse_multipart(boundary.trim_matches('"'), bytes);
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Body::Json(v),
        Err(_) => Body::Raw(bytes.to_vec()),
    }
}

/// A small multipart/form-data parser (RFC 7578), enough for what reqwest sends.
fn parse_multipart(boundary: &str, bytes: &[u8]) -> Body {
    let delimiter = format!("--{boundary}");
    let mut payload_json = None;
    let mut files = Vec::new();
    for part in split(bytes, delimiter.as_bytes()).into_iter().skip(1) {
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(at) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..at]).into_owned();
        let data = &part[at + 4..];
        let mut field = String::new();
        let mut filename = None;
        let mut content_type = None;
        for line in head.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                field = param(line, "name").unwrap_or_default();
                filename = param(line, "filename");
            } else if let Some(v) = lower.strip_prefix("content-type:") {
                content_type = Some(v.trim().to_owned());
            }
        }
        if field == "payload_json" {
            payload_json = serde_json::from_slice(data).ok();
        } else {
            files.push(FilePart {
                field,
                filename,
                content_type,
                bytes: data.to_vec(),
            });
        }
    }
    Body::Multipart {
        payload_json,
        files,
    }
}

/// `name="value"` from a Content-Disposition line (not `filename` when asking `name`).
fn param(line: &str, name: &str) -> Option<String> {
    line.split(';').map(str::trim).find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut bytes: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = find(bytes, delimiter) {
        out.push(&bytes[..at]);
        bytes = &bytes[at + delimiter.len()..];
    }
    out.push(bytes);
    out
}
