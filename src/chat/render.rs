//! Chat answers as [`Message`]s (pure): the `/verify` verdict with its escalation
//! prompt, anchor lists, approval results, the evidence for a new CA, refusals.
//!
//! Text from outside (certificate names, advisory titles, file names) is never trusted
//! as markup: it goes into code blocks or is stripped of Discord's markdown and mention
//! syntax first, so a certificate named `@everyone` or `[click](evil)` stays text.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::evidence::{age, Evidence};
use super::message::{code_block, colour, cut, limits};
use super::request::button;
use super::{Button, ButtonStyle, Embed, Field, File, Message};
use crate::escalation::Escalation;
use crate::trust::{Anchor, AnchorState, Fingerprint};
use crate::verify::{Report, Verdict};

/// Text from outside, made inert for Discord markdown: no formatting, no masked links,
/// no headings or quotes, and no `@everyone`/`@here` (messages also close every
/// mention but the approver role's, so this is for the eye). Addresses like
/// `security@dten.example` stay intact.
pub fn plain(s: &str) -> String {
    let text = s
        .replace("@everyone", "@\u{200b}everyone")
        .replace("@here", "@\u{200b}here");
    let mut out = String::with_capacity(text.len());
    let mut line_start = true;
    for c in text.chars() {
        match c {
            '*' | '_' | '~' | '`' | '|' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '>' | '#' | '-' if line_start => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
        line_start = c == '\n';
    }
    out
}

fn when(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "undated".to_owned())
}

/// A refusal or problem, for the caller only.
pub fn refusal(text: &str) -> Message {
    Message {
        content: cut(text, limits::CONTENT),
        ephemeral: true,
        ..Message::default()
    }
}

/// One line, for the caller only.
pub fn note(text: &str, ephemeral: bool) -> Message {
    Message {
        content: cut(text, limits::CONTENT),
        ephemeral,
        ..Message::default()
    }
}

fn verdict_style(v: Verdict) -> (&'static str, u32) {
    match v {
        Verdict::Trusted => ("TRUSTED: chains to an approved anchor", colour::TRUSTED),
        Verdict::Pending => (
            "PENDING: signed under a candidate anchor nobody has approved yet",
            colour::PENDING,
        ),
        Verdict::UnknownSigner => (
            "UNKNOWN SIGNER: good signature, but no stored anchor vouches for the key",
            colour::UNKNOWN_SIGNER,
        ),
        Verdict::Invalid => ("INVALID: do not install this package", colour::INVALID),
    }
}

/// The key an approver would approve for a verdict: the anchor reached (pending), or
/// the last certificate of the package's own chain (unknown signer).
pub fn key_to_decide(r: &Report) -> Option<Fingerprint> {
    match r.verdict {
        Verdict::Pending => r.anchor.as_ref().map(|a| a.sha256),
        Verdict::UnknownSigner => r.chain.last().map(|l| l.sha256),
        _ => None,
    }
}

/// The `/verify` answer: verdict, signer, anchor, why; for `unknown_signer` and
/// `pending`, the escalation prompt (the approver role pinged, the script attached,
/// approve and escalate buttons that only approvers may use).
pub fn verify_reply(
    r: &Report,
    package: &str,
    escalation: Option<(&Escalation, String)>,
    evidence: Option<&Evidence>,
    approver_role: u64,
) -> Message {
    let (headline, colour) = verdict_style(r.verdict);
    let mut e = Embed {
        title: headline.to_owned(),
        colour,
        description: format!("package `{}`", plain(package).replace('`', "'")),
        ..Embed::default()
    };
    if let Some(s) = &r.signer {
        e.fields.push(Field::new(
            "signer",
            code_block(
                &format!(
                    "subject: {}\nissuer:  {}\nsha256:  {}\nvalid:   {} to {}",
                    s.subject,
                    s.issuer,
                    s.sha256,
                    when(Some(s.not_before)),
                    when(Some(s.not_after))
                ),
                limits::FIELD_VALUE,
            ),
        ));
    }
    match &r.anchor {
        Some(a) => e.fields.push(Field::new(
            "anchor reached",
            format!(
                "{} · vendor {} · from {}\n{}",
                a.state,
                plain(&a.vendor),
                plain(&a.source),
                code_block(&a.sha256.to_string(), 100)
            ),
        )),
        None => e.fields.push(Field::new("anchor reached", "none")),
    }
    if !r.chain.is_empty() {
        let chain: Vec<String> = r
            .chain
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{}. {}\n   {}", i + 1, l.subject, l.sha256))
            .collect();
        e.fields.push(Field::new(
            "chain (signer first)",
            code_block(&chain.join("\n"), limits::FIELD_VALUE),
        ));
    }
    let reasons: Vec<String> = r
        .reasons
        .iter()
        .map(|x| format!("• {}", plain(x)))
        .collect();
    e.fields.push(Field::new(
        "why",
        cut(&reasons.join("\n"), limits::FIELD_VALUE),
    ));
    if let Some(m) = &r.manifest {
        if !m.notices.is_empty() {
            let notices: Vec<String> = m
                .notices
                .iter()
                .map(|n| format!("! {}", plain(n)))
                .collect();
            e.fields.push(Field::new(
                "manifest asks",
                cut(&notices.join("\n"), limits::FIELD_VALUE),
            ));
        }
    }
    // With evidence, its announcements cite the advisories (in their own embed).
    if !r.advisories.is_empty() && evidence.is_none() {
        let cited: Vec<String> = r
            .advisories
            .iter()
            .map(|a| format!("• {} ({}) <{}>", plain(&a.title), when(a.published), a.url))
            .collect();
        e.fields.push(Field::new(
            "advisories that mention the key",
            cut(&cited.join("\n"), limits::FIELD_VALUE),
        ));
    }
    let mut msg = Message {
        embeds: vec![e],
        ..Message::default()
    };
    if let (Some((esc, script)), Some(fp)) = (escalation, key_to_decide(r)) {
        msg.content = format!(
            "<@&{approver_role}> a package needs a decision: confirm the key with {} before approving.",
            plain(esc.contact.as_deref().unwrap_or("the vendor"))
        );
        msg.mention_role = Some(approver_role);
        msg.files.push(File {
            name: "escalate.sh".to_owned(),
            bytes: script.into_bytes(),
        });
        msg.buttons = decision_buttons(&fp);
        if let Some(ev) = evidence {
            msg.embeds.push(evidence_embed(&fp, ev));
        }
    }
    msg.fit()
}

/// The evidence for trusting `key`, as its own embed.
pub fn evidence_embed(key: &Fingerprint, ev: &Evidence) -> Embed {
    Embed {
        title: "Evidence before approving".to_owned(),
        description: code_block(&key.to_string(), 100),
        colour: colour::PENDING,
        fields: evidence_fields(ev),
        ..Embed::default()
    }
}

/// Approve (asks to confirm) and escalate buttons for one key.
pub fn decision_buttons(fp: &Fingerprint) -> Vec<Button> {
    let short = &fp.to_string()[..12];
    vec![
        Button {
            custom_id: button::approve(fp),
            label: format!("Approve {short}…"),
            style: ButtonStyle::Success,
        },
        Button {
            custom_id: button::escalate(fp),
            label: format!("Escalate {short}…"),
            style: ButtonStyle::Secondary,
        },
    ]
}

/// The evidence for trusting a new CA, as embed fields.
pub fn evidence_fields(e: &Evidence) -> Vec<Field> {
    let mut out = Vec::new();
    let states: Vec<String> = e
        .states
        .iter()
        .map(|(k, st)| {
            let st = st.map_or("not stored", AnchorState::as_str);
            format!("{st:<10} {k}")
        })
        .collect();
    if !states.is_empty() {
        out.push(Field::new(
            "anchor state",
            code_block(&states.join("\n"), limits::FIELD_VALUE),
        ));
    }
    let cross = if e.cross_signed.is_empty() {
        "no: no approved anchor has certified this key".to_owned()
    } else {
        e.cross_signed
            .iter()
            .map(|c| {
                format!(
                    "yes: certified by approved {} (via {})",
                    plain(c.by_subject.as_deref().unwrap_or("anchor")),
                    &c.via.to_string()[..16]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    out.push(Field::new(
        "cross-signed by an approved anchor?",
        cut(&cross, limits::FIELD_VALUE),
    ));
    let channels = match e.channels.len() {
        0 => "not announced in any stored advisory".to_owned(),
        1 => format!(
            "only on {} (one channel: ask the vendor to confirm elsewhere)",
            plain(&e.channels[0])
        ),
        n => format!("{n} channels: {}", plain(&e.channels.join(", "))),
    };
    let mut ann = channels;
    for a in e.announcements.iter().take(5) {
        let _ = write!(
            ann,
            "\n• {} ({}) <{}>",
            plain(&a.title),
            when(a.published),
            a.url
        );
    }
    out.push(Field::new("announced on", cut(&ann, limits::FIELD_VALUE)));
    let old = match (e.revocations.is_empty(), e.still_approved.is_empty()) {
        (false, _) => format!("being revoked: {}", plain(&e.revocations.join("; "))),
        (true, false) => format!(
            "no revocation announced; still approved: {}",
            plain(&e.still_approved.join("; "))
        ),
        (true, true) => "no other key of this vendor is stored".to_owned(),
    };
    out.push(Field::new("old key", cut(&old, limits::FIELD_VALUE)));
    out.push(Field::inline(
        "notice age",
        e.age_secs.map_or_else(|| "undated".to_owned(), age),
    ));
    out
}

/// The approve button's first step: the evidence and a confirm button, for the caller.
pub fn confirm_approve(anchor: &Anchor, evidence: &Evidence) -> Message {
    let mut e = Embed {
        title: format!("Approve {}?", plain(anchor.subject.as_deref().unwrap_or("this key"))),
        colour: colour::PENDING,
        description: format!(
            "{}\nvendor {} · now {} · from {}\nCompare the fingerprint with what the vendor confirms (the escalation script shows how) before you confirm.",
            code_block(&anchor.sha256.to_string(), 100),
            plain(&anchor.vendor),
            anchor.state,
            plain(&anchor.source)
        ),
        ..Embed::default()
    };
    e.fields = evidence_fields(evidence);
    Message {
        embeds: vec![e],
        buttons: vec![
            Button {
                custom_id: button::confirm(&anchor.sha256),
                label: "Confirm: approve this anchor".to_owned(),
                style: ButtonStyle::Danger,
            },
            Button {
                custom_id: button::escalate(&anchor.sha256),
                label: "Escalation script".to_owned(),
                style: ButtonStyle::Secondary,
            },
        ],
        ephemeral: true,
        ..Message::default()
    }
    .fit()
}

/// The anchors, one line each, in a code block per embed.
pub fn trust_list(anchors: &[Anchor], vendor: Option<&str>) -> Message {
    let title = match vendor {
        Some(v) => format!("Anchors of {}", plain(v)),
        None => "Anchors".to_owned(),
    };
    if anchors.is_empty() {
        return note(&format!("{title}: none stored"), false);
    }
    let lines: Vec<String> = anchors
        .iter()
        .map(|a| {
            format!(
                "{:<9} {} {} {}",
                a.state.as_str(),
                a.sha256,
                a.vendor,
                a.subject.as_deref().unwrap_or("(fingerprint only)")
            )
        })
        .collect();
    let counts = [
        AnchorState::Approved,
        AnchorState::Candidate,
        AnchorState::Revoked,
    ]
    .map(|s| format!("{} {}", anchors.iter().filter(|a| a.state == s).count(), s));
    let mut embeds = Vec::new();
    let mut chunk = String::new();
    for l in lines {
        if chunk.chars().count() + l.chars().count() + 1 > limits::DESCRIPTION - 200 {
            embeds.push(std::mem::take(&mut chunk));
        }
        chunk.push_str(&l);
        chunk.push('\n');
    }
    embeds.push(chunk);
    Message {
        embeds: embeds
            .into_iter()
            .map(|body| Embed {
                title: title.clone(),
                description: code_block(body.trim_end(), limits::DESCRIPTION),
                colour: colour::INFO,
                footer: Some(counts.join(" · ")),
                ..Embed::default()
            })
            .collect(),
        ..Message::default()
    }
    .fit()
}

/// The escalation prompt for one key: names, advisories, contact, the script attached.
pub fn escalation_reply(
    e: &Escalation,
    script: String,
    evidence: Option<&Evidence>,
    approver_role: u64,
) -> Message {
    let mut embed = Embed {
        title: "Escalation: confirm this key with the vendor".to_owned(),
        colour: colour::PENDING,
        ..Embed::default()
    };
    for k in e.keys.iter().take(5) {
        embed.fields.push(Field::new(
            format!("{} key", k.state),
            code_block(
                &format!(
                    "sha256:  {}\nsubject: {}\nissuer:  {}",
                    k.sha256,
                    k.subject.as_deref().unwrap_or("unknown"),
                    k.issuer.as_deref().unwrap_or("unknown")
                ),
                limits::FIELD_VALUE,
            ),
        ));
    }
    let contact = e
        .contact
        .as_deref()
        .unwrap_or("no contact configured for this vendor");
    embed.fields.push(Field::new(
        "vendor",
        format!(
            "{} · {}",
            plain(e.vendor.as_deref().unwrap_or("unknown")),
            plain(contact)
        ),
    ));
    let cited: Vec<String> = e
        .advisories
        .iter()
        .map(|a| format!("• {} ({}) <{}>", plain(&a.title), when(a.published), a.url))
        .collect();
    embed.fields.push(Field::new(
        "advisories that mention it",
        if cited.is_empty() {
            "none stored".to_owned()
        } else {
            cut(&cited.join("\n"), limits::FIELD_VALUE)
        },
    ));
    embed.footer = Some(
        "Run: sh escalate.sh <fingerprint the vendor reads out>  (MATCH or NO MATCH)".to_owned(),
    );
    let mut embeds = vec![embed];
    if let (Some(ev), Some(k)) = (evidence, e.keys.first()) {
        embeds.push(evidence_embed(&k.sha256, ev));
    }
    Message {
        content: format!("<@&{approver_role}> an unknown or pending key needs a decision."),
        mention_role: Some(approver_role),
        embeds,
        files: vec![File {
            name: "escalate.sh".to_owned(),
            bytes: script.into_bytes(),
        }],
        ..Message::default()
    }
    .fit()
}

/// A store failure in a chat command: logged, and said to the caller.
pub fn store_failed(e: &crate::store::Error) -> Message {
    tracing::error!(error = %e, "store error in a chat command");
    refusal(&format!(
        "The store failed: {e}. Nothing was changed; try again or tell an operator."
    ))
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn outside_text_cannot_format_link_or_ping() {
        assert_eq!(
            plain("**bold** [x](https://evil)"),
            "\\*\\*bold\\*\\* \\[x\\](https://evil)"
        );
        assert_eq!(plain("@everyone @here"), "@\u{200b}everyone @\u{200b}here");
        assert_eq!(plain("# head\n> quote"), "\\# head \\> quote");
        assert_eq!(
            plain("security@dten.example (>=2)"),
            "security@dten.example (>=2)"
        );
    }
}
