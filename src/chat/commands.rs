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
use super::verifying::{self, check_attachment};
use super::{evidence, render, Message};
use crate::config::{Config, DiscordConfig};
use crate::escalation;
use crate::fetch::Fetcher;
use crate::store::Store;
use crate::trust::approval;
use crate::trust::Fingerprint;

/// Verifications running at once; more get a "busy" answer instead of a queue that a
/// flood of `/verify` could grow without bound.
pub const MAX_VERIFY: usize = 2;

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
                Err(e) => render::store_failed(&e),
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
            Err(e) => return render::store_failed(&e),
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
            Err(e) => render::store_failed(&e),
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
            Err(e) => return render::store_failed(&e),
        };
        match evidence::for_anchor(&self.store, &anchor, now) {
            Ok(ev) => render::confirm_approve(&anchor, &ev),
            Err(e) => render::store_failed(&e),
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
                Ok(Err(e)) => render::store_failed(&e),
                Err(e) => render::refusal(&format!("escalation failed: {e}")),
            }
        })
    }

    fn verify_job(
        &self,
        attachment: Option<AttachmentRef>,
        url: Option<String>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Message> + Send>> {
        Box::pin(verifying::download_and_verify(
            self.store.clone(),
            self.config.clone(),
            self.fetcher.clone(),
            self.discord.approver_role_id,
            attachment,
            url,
        ))
    }
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
