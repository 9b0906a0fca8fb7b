//! [`Message`] into serenity's builders: a channel message (notices), an immediate
//! interaction answer (type 4), and an edit of a deferred answer (with files).
//!
//! Mentions are closed by default: only the approver role a message names may be
//! pinged, never `@everyone` or a user, whatever the text holds.

use serenity::all::{
    ButtonStyle as SerenityStyle, CreateActionRow, CreateAllowedMentions, CreateAttachment,
    CreateButton, CreateEmbed, CreateEmbedFooter, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    EditInteractionResponse, RoleId, Timestamp,
};

use super::{ButtonStyle, Embed, Message};

fn embed(e: &Embed) -> CreateEmbed {
    let mut out = CreateEmbed::new()
        .title(&e.title)
        .colour(e.colour)
        .fields(e.fields.iter().map(|f| (&f.name, &f.value, f.inline)));
    if !e.description.is_empty() {
        out = out.description(&e.description);
    }
    if let Some(url) = &e.url {
        out = out.url(url);
    }
    if let Some(footer) = &e.footer {
        out = out.footer(CreateEmbedFooter::new(footer));
    }
    if let Some(ts) = e
        .timestamp
        .and_then(|t| Timestamp::from_unix_timestamp(t.unix_timestamp()).ok())
    {
        out = out.timestamp(ts);
    }
    out
}

fn embeds(m: &Message) -> Vec<CreateEmbed> {
    m.embeds.iter().map(embed).collect()
}

fn components(m: &Message) -> Vec<CreateActionRow> {
    if m.buttons.is_empty() {
        return Vec::new();
    }
    vec![CreateActionRow::Buttons(
        m.buttons
            .iter()
            .map(|b| {
                CreateButton::new(&b.custom_id)
                    .label(&b.label)
                    .style(match b.style {
                        ButtonStyle::Primary => SerenityStyle::Primary,
                        ButtonStyle::Secondary => SerenityStyle::Secondary,
                        ButtonStyle::Success => SerenityStyle::Success,
                        ButtonStyle::Danger => SerenityStyle::Danger,
                    })
            })
            .collect(),
    )]
}

fn mentions(m: &Message) -> CreateAllowedMentions {
    let closed = CreateAllowedMentions::new()
        .everyone(false)
        .all_users(false)
        .all_roles(false);
    match m.mention_role {
        Some(role) => closed.roles([RoleId::new(role)]),
        None => closed.empty_roles(),
    }
}

fn files(m: &Message) -> Vec<CreateAttachment> {
    m.files
        .iter()
        .map(|f| CreateAttachment::bytes(f.bytes.clone(), f.name.clone()))
        .collect()
}

/// A channel message; `nonce` (≤ 25 characters) with `enforce_nonce` makes Discord
/// return the first message instead of posting a second one with the same nonce.
pub fn channel_message(m: &Message, nonce: Option<&str>) -> CreateMessage {
    let mut out = CreateMessage::new()
        .embeds(embeds(m))
        .components(components(m))
        .allowed_mentions(mentions(m))
        .add_files(files(m));
    if !m.content.is_empty() {
        out = out.content(&m.content);
    }
    if let Some(n) = nonce {
        out = out
            .nonce(serenity::all::Nonce::String(n.to_owned()))
            .enforce_nonce(true);
    }
    out
}

/// An immediate answer (type 4). Files are not carried (see `chat::handler::First`).
pub fn immediate(m: &Message) -> CreateInteractionResponse {
    let mut out = CreateInteractionResponseMessage::new()
        .embeds(embeds(m))
        .components(components(m))
        .allowed_mentions(mentions(m))
        .ephemeral(m.ephemeral);
    if !m.content.is_empty() {
        out = out.content(&m.content);
    }
    CreateInteractionResponse::Message(out)
}

/// The deferred acknowledgement (type 5), ephemeral or not.
pub fn defer(ephemeral: bool) -> CreateInteractionResponse {
    CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(ephemeral))
}

/// A follow-up message (an ephemeral one says what the deferred answer could not).
pub fn followup(m: &Message) -> CreateInteractionResponseFollowup {
    let mut out = CreateInteractionResponseFollowup::new()
        .embeds(embeds(m))
        .components(components(m))
        .allowed_mentions(mentions(m))
        .ephemeral(m.ephemeral)
        .add_files(files(m));
    if !m.content.is_empty() {
        out = out.content(&m.content);
    }
    out
}

/// The edit that completes a deferred answer, files included.
pub fn edit(m: &Message) -> EditInteractionResponse {
    let mut out = EditInteractionResponse::new()
        .content(&m.content)
        .embeds(embeds(m))
        .components(components(m))
        .allowed_mentions(mentions(m));
    for f in files(m) {
        out = out.new_attachment(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Button, Field};

    #[test]
    fn a_notice_serializes_with_nonce_buttons_and_closed_mentions() {
        let m = Message {
            content: "<@&42> look @everyone".into(),
            mention_role: Some(42),
            embeds: vec![Embed {
                title: "t".into(),
                colour: 0xE67E22,
                fields: vec![Field::new("fingerprint", "```\nab\n```")],
                ..Embed::default()
            }],
            buttons: vec![Button {
                custom_id: "approve:x".into(),
                label: "Approve".into(),
                style: ButtonStyle::Success,
            }],
            ..Message::default()
        };
        let v = serde_json::to_value(channel_message(&m, Some("tw-1234"))).unwrap();
        assert_eq!(v["nonce"], "tw-1234");
        assert_eq!(v["enforce_nonce"], true);
        assert_eq!(v["embeds"][0]["color"], 0xE67E22);
        assert_eq!(
            v["components"][0]["components"][0]["custom_id"],
            "approve:x"
        );
        assert_eq!(v["allowed_mentions"]["roles"], serde_json::json!(["42"]));
        let parse = v["allowed_mentions"]["parse"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            parse.is_empty(),
            "nothing may be pinged by parsing the text: {v}"
        );
        let r = serde_json::to_value(immediate(&Message {
            ephemeral: true,
            ..m
        }))
        .unwrap();
        assert_eq!(r["type"], 4);
        assert_eq!(r["data"]["flags"], 64);
    }
}
