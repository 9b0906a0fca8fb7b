//! The dispatcher: one [`Bot`] answers every interaction (CONTRACT §6), whichever
//! transport brought it, by implementing [`Handler`].
//!
//! Authority: `/trust approve`, `/trust revoke` and the approve buttons are for members
//! holding `approver_role_id` only; anyone else gets an ephemeral refusal and nothing
//! changes. Interactions from outside a guild (or from another guild than `guild_id`)
//! are refused. Every change is audited with the Discord user id as the actor.
//!
//! Work: quick answers (lists, approvals, status) are given at once; `/verify` and
//! `/escalate` are acknowledged (type 5) and finished by editing the original response.
//! Downloads go through `fetch` behind the address guard with the size cap; verification
//! runs on a blocking thread, at most [`MAX_VERIFY`] at a time.

use std::sync::Arc;

use serenity::all::{
    CommandInteraction, ComponentInteraction, CreateInteractionResponse, Http, Interaction,
};
use serenity::builder::Builder as _;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use super::builders::{defer, edit, followup, immediate};
use super::handler::{First, Handler};
use super::request::{self, AttachmentRef, Caller, Request};
use super::{evidence, render, Message};
use crate::config::{Config, DiscordConfig};
use crate::escalation;
use crate::fetch::{Fetched, Fetcher, Trust, Validators};
use crate::package::Limits;
use crate::store::Store;
use crate::trust::approval;
use crate::trust::Fingerprint;
use crate::verify::{self, PackageInput, Verdict};

/// Verifications running at once; more get a "busy" answer instead of a queue that a
/// flood of `/verify` could grow without bound.
pub const MAX_VERIFY: usize = 2;

/// Hosts Discord serves attachments from.
const CDN_HOSTS: [&str; 2] = ["cdn.discordapp.com", "media.discordapp.net"];

pub struct Bot {
    store: Arc<Store>,
    config: Arc<Config>,
    discord: DiscordConfig,
    fetcher: Arc<Fetcher>,
    http: Arc<Http>,
    verify_slots: Arc<Semaphore>,
}

/// Where an interaction's answer goes (its token edits the original response).
#[derive(Clone)]
enum Origin {
    Command(Box<CommandInteraction>),
    Component(Box<ComponentInteraction>),
}

impl Origin {
    fn token(&self) -> &str {
        match self {
            Self::Command(c) => &c.token,
            Self::Component(c) => &c.token,
        }
    }
}

impl Bot {
    pub fn new(
        store: Arc<Store>,
        config: Arc<Config>,
        discord: DiscordConfig,
        fetcher: Arc<Fetcher>,
        http: Arc<Http>,
    ) -> Self {
        Self {
            store,
            config,
            discord,
            fetcher,
            http,
            verify_slots: Arc::new(Semaphore::new(MAX_VERIFY)),
        }
    }

    /// The host of `api_base`, where a test's fake Discord serves attachments.
    fn api_host(&self) -> Option<String> {
        url::Url::parse(&self.discord.api_base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    }

    fn is_approver(&self, caller: &Caller) -> bool {
        caller.roles.contains(&self.discord.approver_role_id)
    }

    /// Refuse interactions from outside the guild trustwatch serves.
    fn guild_refusal(&self, caller: &Caller) -> Option<Message> {
        match (caller.guild_id, self.discord.guild_id) {
            (None, _) => Some(render::refusal(
                "trustwatch answers in its server's channels only, not in direct messages.",
            )),
            (Some(got), Some(want)) if got != want => Some(render::refusal(
                "this trustwatch instance serves another server.",
            )),
            _ => None,
        }
    }

    fn answer(&self, caller: Caller, req: Request, origin: Origin) -> First {
        if let Some(refusal) = self.guild_refusal(&caller) {
            return First::Now(immediate(&refusal));
        }
        let needs_approver = matches!(
            req,
            Request::Approve { .. } | Request::ConfirmApprove { .. } | Request::Revoke { .. }
        );
        if needs_approver && !self.is_approver(&caller) {
            tracing::warn!(user = caller.user_id, request = ?req, "refused: not an approver");
            return First::Now(immediate(&render::refusal(&format!(
                "Only members with the approver role <@&{}> may approve or revoke anchors. Nothing was changed.",
                self.discord.approver_role_id
            ))));
        }
        let now = OffsetDateTime::now_utc();
        let msg = match req {
            Request::TrustList { vendor } => match self.store.anchors(vendor.as_deref()) {
                Ok(a) => render::trust_list(&a, vendor.as_deref()),
                Err(e) => store_failed(&e),
            },
            Request::Approve { fingerprint } => self.approve(&caller, fingerprint, now),
            Request::Revoke {
                fingerprint,
                reason,
            } => self.revoke(&caller, fingerprint, &reason, now),
            Request::ConfirmApprove { fingerprint } => self.confirm(fingerprint, now),
            Request::Status => super::status::reply(&self.store, &self.config),
            Request::Escalate { fingerprint } => {
                return self.later(origin, false, self.escalate_job(fingerprint));
            }
            Request::Verify { attachment, url } => {
                // Checked before deferring: a refusal is then ephemeral (CONTRACT §6),
                // and nothing is downloaded or queued for it.
                if let Some(a) = &attachment {
                    if let Err(why) = check_attachment(
                        a,
                        self.config.http.max_download,
                        self.api_host().as_deref(),
                    ) {
                        return First::Now(immediate(&render::refusal(&why)));
                    }
                }
                let Ok(permit) = self.verify_slots.clone().try_acquire_owned() else {
                    return First::Now(immediate(&render::refusal(&format!(
                        "{MAX_VERIFY} verifications are already running; try again in a minute."
                    ))));
                };
                let job = self.verify_job(attachment, url);
                return self.later(
                    origin,
                    false,
                    Box::pin(async move {
                        let m = job.await;
                        drop(permit);
                        m
                    }),
                );
            }
        };
        First::Now(immediate(&msg))
    }

    /// Acknowledge now; `work` makes the message that edits the original response.
    fn later(
        &self,
        origin: Origin,
        ephemeral: bool,
        work: std::pin::Pin<Box<dyn std::future::Future<Output = Message> + Send>>,
    ) -> First {
        let http = self.http.clone();
        First::Later {
            ack: defer(ephemeral),
            job: Box::pin(async move {
                let msg = work.await;
                let token = origin.token();
                // A refusal found only after acknowledging (the address guard, a
                // failed download) is for the caller alone: the public "thinking..."
                // goes, an ephemeral follow-up says why.
                let sent = if msg.ephemeral && !ephemeral {
                    if let Err(e) = http.delete_original_interaction_response(token).await {
                        tracing::warn!(error = %e, "could not remove the deferred answer");
                    }
                    followup(&msg)
                        .execute(&*http, (None, token))
                        .await
                        .map(|_| ())
                } else {
                    edit(&msg).execute(&*http, token).await.map(|_| ())
                };
                if let Err(e) = sent {
                    tracing::error!(error = %e, "could not complete the interaction response");
                }
            }),
        }
    }

    fn approve(&self, caller: &Caller, fp: Fingerprint, now: OffsetDateTime) -> Message {
        self.change(fp, "Not approved", |existing| {
            approval::plan_approve(existing, fp, &caller.actor(), now)
        }, |change, seq| {
            format!(
                "Approved `{fp}` ({}) by <@{}>. Packages chaining to it are now trusted. (audit #{seq})",
                render::plain(&change.new.vendor),
                caller.user_id,
            )
        })
    }

    fn revoke(
        &self,
        caller: &Caller,
        fp: Fingerprint,
        reason: &str,
        now: OffsetDateTime,
    ) -> Message {
        self.change(fp, "Not revoked", |existing| {
            approval::plan_revoke(existing, fp, &caller.actor(), Some(reason), now)
        }, |change, seq| {
            format!(
                "Revoked `{fp}` ({}) by <@{}>: {}. Packages whose chain uses it are now invalid. (audit #{seq})",
                render::plain(&change.new.vendor),
                caller.user_id,
                render::plain(reason),
            )
        })
    }

    /// Plan a change of the stored anchor `fp` with `plan`, apply it with its audit
    /// entry (compare-and-swap), and say what happened (public) or why not (ephemeral).
    fn change(
        &self,
        fp: Fingerprint,
        refused: &str,
        plan: impl FnOnce(
            Option<&crate::trust::Anchor>,
        ) -> Result<approval::Change, approval::ApprovalError>,
        said: impl FnOnce(&approval::Change, u64) -> String,
    ) -> Message {
        let existing = match self.store.anchor(&fp) {
            Ok(a) => a,
            Err(e) => return store_failed(&e),
        };
        let change = match plan(existing.as_ref()) {
            Ok(c) => c,
            Err(e) => return render::refusal(&format!("{refused}: {e}")),
        };
        match self
            .store
            .apply(change.previous.as_ref(), &change.new, &change.audit)
        {
            Ok(entry) => {
                tracing::info!(
                    anchor = %fp,
                    vendor = %change.new.vendor,
                    state = change.new.state.as_str(),
                    actor = %entry.actor,
                    seq = entry.seq,
                    "anchor changed in chat"
                );
                render::note(&said(&change, entry.seq), false)
            }
            Err(e) => store_failed(&e),
        }
    }

    /// The approve button's first step: evidence and a confirm button.
    fn confirm(&self, fp: Fingerprint, now: OffsetDateTime) -> Message {
        let anchor = match self.store.anchor(&fp) {
            Ok(Some(a)) => a,
            Ok(None) => {
                return render::refusal(&format!(
                    "No anchor {fp} is stored: it cannot be approved from chat. Escalate it, and add the certificate with `trustwatch trust add` once the vendor confirmed it."
                ))
            }
            Err(e) => return store_failed(&e),
        };
        match evidence::for_anchor(&self.store, &anchor, now) {
            Ok(ev) => render::confirm_approve(&anchor, &ev),
            Err(e) => store_failed(&e),
        }
    }

    fn escalate_job(
        &self,
        fp: Fingerprint,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Message> + Send>> {
        let (store, config, role) = (
            self.store.clone(),
            self.config.clone(),
            self.discord.approver_role_id,
        );
        Box::pin(async move {
            let built = tokio::task::spawn_blocking(move || {
                let now = OffsetDateTime::now_utc();
                let e = escalation::for_fingerprint(&store, &config, fp, None, now)?;
                let ev = evidence::for_key(&store, fp, e.vendor.as_deref(), now)?;
                Ok::<_, crate::store::Error>((e, ev))
            })
            .await;
            match built {
                Ok(Ok((e, ev))) => {
                    render::escalation_reply(&e, escalation::render(&e), Some(&ev), role)
                }
                Ok(Err(e)) => store_failed(&e),
                Err(e) => render::refusal(&format!("escalation failed: {e}")),
            }
        })
    }

    fn verify_job(
        &self,
        attachment: Option<AttachmentRef>,
        url: Option<String>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Message> + Send>> {
        let (store, config, fetcher, role) = (
            self.store.clone(),
            self.config.clone(),
            self.fetcher.clone(),
            self.discord.approver_role_id,
        );
        Box::pin(async move {
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
                Ok(Fetched::NotModified) => {
                    return render::refusal("the server sent no package (304)")
                }
                Err(e) => {
                    return render::refusal(&format!("The package could not be downloaded: {e}"))
                }
            };
            tracing::info!(package = %name, bytes = bytes.len(), "verifying a package from chat");
            let done = tokio::task::spawn_blocking(move || {
                verify_bytes(&store, &config, &name, &bytes, role)
            })
            .await;
            match done {
                Ok(m) => m,
                Err(e) => render::refusal(&format!("verification failed: {e}")),
            }
        })
    }
}

/// An attachment is fetched only when Discord says it is within the size cap, and only
/// from Discord's CDN (or the configured API host, where a test's fake serves it).
fn check_attachment(a: &AttachmentRef, cap: u64, api_host: Option<&str>) -> Result<(), String> {
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
    let at = rustls_pki_types::UnixTime::now();
    let (report, evidence) = match verify::against_store(
        store,
        PackageInput::Zip(&path),
        &Limits::from_config(&config.verify),
        None,
        at,
    ) {
        Ok(r) => r,
        Err(e) => return store_failed(&e),
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

fn store_failed(e: &crate::store::Error) -> Message {
    tracing::error!(error = %e, "store error in a chat command");
    render::refusal(&format!(
        "The store failed: {e}. Nothing was changed; try again or tell an operator."
    ))
}

impl Handler for Bot {
    fn first(&self, interaction: Interaction) -> First {
        match interaction {
            Interaction::Ping(_) => First::Now(CreateInteractionResponse::Pong),
            Interaction::Command(cmd) => match request::from_command(&cmd) {
                Ok((caller, req)) => {
                    tracing::info!(user = caller.user_id, command = %cmd.data.name, "command");
                    self.answer(caller, req, Origin::Command(Box::new(cmd)))
                }
                Err(e) => First::Now(immediate(&render::refusal(&e.to_string()))),
            },
            Interaction::Component(c) => match request::from_component(&c) {
                Ok((caller, req)) => {
                    tracing::info!(user = caller.user_id, button = %c.data.custom_id, "button");
                    self.answer(caller, req, Origin::Component(Box::new(c)))
                }
                Err(e) => First::Now(immediate(&render::refusal(&e.to_string()))),
            },
            _ => First::Now(immediate(&render::refusal(
                "trustwatch does not handle this kind of interaction.",
            ))),
        }
    }
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
