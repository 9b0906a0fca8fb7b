//! `/verify` from chat: the package is downloaded behind the address guard with the
//! `http.max_download` cap (an attachment only from Discord's CDN, or the configured API
//! host where a test's fake serves it), written to a private temp file, verified against
//! the store on a blocking thread, and answered with the verdict and, when a person
//! must decide, the escalation prompt with its evidence.

use std::sync::Arc;

use time::OffsetDateTime;

use super::request::AttachmentRef;
use super::{evidence, render, Message};
use crate::config::Config;
use crate::escalation;
use crate::fetch::{Fetched, Fetcher, Trust, Validators};
use crate::package::Limits;
use crate::store::Store;
use crate::verify::{self, PackageInput, Verdict};

/// Hosts Discord serves attachments from.
const CDN_HOSTS: [&str; 2] = ["cdn.discordapp.com", "media.discordapp.net"];

/// Download (attachment or URL) and verify; the answer to edit in.
pub(super) async fn download_and_verify(
    store: Arc<Store>,
    config: Arc<Config>,
    fetcher: Arc<Fetcher>,
    role: u64,
    attachment: Option<AttachmentRef>,
    url: Option<String>,
) -> Message {
    let (name, source) = match (&attachment, url) {
        // Checked by `answer` before deferring (`check_attachment`).
        (Some(a), _) => (a.filename.clone(), a.url.clone()),
        (None, Some(u)) => (u.rsplit('/').next().unwrap_or("package").to_owned(), u),
        (None, None) => return render::refusal("give a package attachment or a url"),
    };
    let bytes = match fetcher
        .get(&source, Trust::Guarded, &Validators::default())
        .await
    {
        Ok(Fetched::Body { bytes, .. }) => bytes,
        Ok(Fetched::NotModified) => return render::refusal("the server sent no package (304)"),
        Err(e) => return render::refusal(&format!("The package could not be downloaded: {e}")),
    };
    tracing::info!(package = %name, bytes = bytes.len(), "verifying a package from chat");
    let done =
        tokio::task::spawn_blocking(move || verify_bytes(&store, &config, &name, &bytes, role))
            .await;
    match done {
        Ok(m) => m,
        Err(e) => render::refusal(&format!("verification failed: {e}")),
    }
}

/// An attachment is fetched only when Discord says it is within the size cap, and only
/// from Discord's CDN (or the configured API host, where a test's fake serves it).
pub(super) fn check_attachment(
    a: &AttachmentRef,
    cap: u64,
    api_host: Option<&str>,
) -> Result<(), String> {
    if a.size > cap {
        return Err(format!(
            "{} is {} bytes, over http.max_download ({cap} bytes); not downloaded.",
            render::plain(&a.filename),
            a.size
        ));
    }
    let url = url::Url::parse(&a.url).map_err(|_| "the attachment has no valid URL".to_owned())?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let on_cdn = url.scheme() == "https" && CDN_HOSTS.contains(&host.as_str());
    if on_cdn || api_host.is_some_and(|h| h.eq_ignore_ascii_case(&host)) {
        Ok(())
    } else {
        Err("the attachment is not on Discord's CDN; not downloaded.".to_owned())
    }
}

/// Verify downloaded bytes (blocking): write them to a private temp file, verify
/// against the store, and answer with the verdict and, when a person must decide, the
/// escalation prompt.
fn verify_bytes(store: &Store, config: &Config, name: &str, bytes: &[u8], role: u64) -> Message {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return render::refusal(&format!("no room to verify the package: {e}")),
    };
    let path = dir.path().join("package.zip");
    if let Err(e) = std::fs::write(&path, bytes) {
        return render::refusal(&format!("no room to verify the package: {e}"));
    }
    let at = verify::VerifyTime::Clock(OffsetDateTime::now_utc());
    let (report, evidence) = match verify::against_store(
        store,
        PackageInput::Zip(&path),
        &Limits::from_config(&config.verify),
        None,
        at,
    ) {
        Ok(r) => r,
        Err(e) => return render::store_failed(&e),
    };
    tracing::info!(package = %name, verdict = report.verdict.as_str(), "verified from chat");
    let escalation = if matches!(report.verdict, Verdict::Pending | Verdict::UnknownSigner) {
        let anchors = store.anchors(None).unwrap_or_default();
        escalation::for_package(
            &report,
            &evidence,
            &anchors,
            config,
            None,
            name,
            OffsetDateTime::now_utc(),
        )
        .map(|e| {
            let script = escalation::render(&e);
            (e, script)
        })
    } else {
        None
    };
    let key_evidence = render::key_to_decide(&report).and_then(|fp| {
        let vendor = report.anchor.as_ref().map(|a| a.vendor.as_str());
        evidence::for_key(store, fp, vendor, OffsetDateTime::now_utc())
            .map_err(|e| tracing::warn!(error = %e, "no evidence for the prompt"))
            .ok()
    });
    render::verify_reply(
        &report,
        name,
        escalation.as_ref().map(|(e, s)| (e, s.clone())),
        key_evidence.as_ref(),
        role,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(url: &str, size: u64) -> AttachmentRef {
        AttachmentRef {
            filename: "p.zip".into(),
            size,
            url: url.into(),
        }
    }

    #[test]
    fn attachments_only_from_discord_within_the_cap() {
        let cdn = "https://cdn.discordapp.com/attachments/1/2/p.zip?ex=1";
        assert!(check_attachment(&att(cdn, 10), 100, None).is_ok());
        assert!(check_attachment(&att(cdn, 101), 100, None)
            .unwrap_err()
            .contains("over http.max_download"));
        assert!(check_attachment(&att("http://cdn.discordapp.com/p.zip", 1), 100, None).is_err());
        assert!(check_attachment(&att("https://evil.example/p.zip", 1), 100, None).is_err());
        assert!(check_attachment(
            &att("http://127.0.0.1:9/attachments/p.zip", 1),
            100,
            Some("127.0.0.1")
        )
        .is_ok());
        assert!(check_attachment(&att("not a url", 1), 100, None).is_err());
    }
}
