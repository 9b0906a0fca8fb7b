//! A chat message in neutral form: what trustwatch wants to say, before it is turned
//! into Discord embeds (serenity builders) or a Slack-compatible webhook body.
//!
//! Everything here is plain data. [`Message::fit`] cuts a message to Discord's limits
//! (which are also within Slack's): 2,000 characters of content, 10 embeds, 6,000
//! characters over all embeds, 256 per title, 4,096 per description, 25 fields of 256 +
//! 1,024, 2,048 per footer, 5 buttons of 80-character labels and 100-character ids.
//! Cutting counts characters (code points), as Discord does for these limits.

use time::OffsetDateTime;

/// Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
pub mod limits {
    pub const CONTENT: usize = 2_000;
    pub const EMBEDS: usize = 10;
    pub const EMBED_TOTAL: usize = 6_000;
    pub const TITLE: usize = 256;
    pub const DESCRIPTION: usize = 4_096;
    pub const FIELDS: usize = 25;
    pub const FIELD_NAME: usize = 256;
    pub const FIELD_VALUE: usize = 1_024;
    pub const FOOTER: usize = 2_048;
    pub const BUTTONS: usize = 5;
    pub const BUTTON_LABEL: usize = 80;
    pub const CUSTOM_ID: usize = 100;
    pub const URL: usize = 2_048;
}

/// Embed colours, one per finding kind and per verdict.
pub mod colour {
    pub const CA_ROTATION: u32 = 0xE6_7E_22;
    pub const KEY_REVOCATION: u32 = 0xC0_39_2B;
    pub const ADVISORY: u32 = 0xF1_C4_0F;
    pub const DEPRECATION: u32 = 0x34_98_DB;
    pub const SOURCE_ERROR: u32 = 0x95_A5_A6;
    pub const TRUSTED: u32 = 0x2E_CC_71;
    pub const PENDING: u32 = 0xE6_7E_22;
    pub const UNKNOWN_SIGNER: u32 = 0xF3_9C_12;
    pub const INVALID: u32 = 0xC0_39_2B;
    pub const INFO: u32 = 0x5D_6D_7E;
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Plain text above the embeds (a role ping, a one-line answer).
    pub content: String,
    pub embeds: Vec<Embed>,
    pub buttons: Vec<Button>,
    pub files: Vec<File>,
    /// The role to ping (its mention is in `content`); only this role may be pinged.
    pub mention_role: Option<u64>,
    /// Only the person who asked sees it (interaction replies only).
    pub ephemeral: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Embed {
    pub title: String,
    pub url: Option<String>,
    pub description: String,
    pub colour: u32,
    pub fields: Vec<Field>,
    pub footer: Option<String>,
    pub timestamp: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonStyle {
    Primary,
    Secondary,
    Success,
    Danger,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// What the button does when pressed (`approve:<sha256>`, `escalate:<sha256>`).
    pub custom_id: String,
    pub label: String,
    pub style: ButtonStyle,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Field {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            inline: false,
        }
    }

    pub fn inline(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            inline: true,
            ..Self::new(name, value)
        }
    }
}

/// Cut `s` to at most `max` characters, ending with `…` when something was cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Cut a code block's body so that the fenced block stays within `max` characters and
/// stays closed (a cut fence would swallow the rest of the message).
pub fn code_block(body: &str, max: usize) -> String {
    const FENCE: usize = "```\n\n```".len();
    let body = body.replace("```", "`\u{200b}``");
    format!("```\n{}\n```", cut(&body, max.saturating_sub(FENCE)))
}

/// Cut a field value to `max` characters, keeping a code block closed.
fn shorten_value(value: &str, max: usize) -> String {
    if value.starts_with("```") && value.ends_with("```") && value.len() >= 6 {
        let inner = value.trim_start_matches("```").trim_end_matches("```");
        code_block(inner.trim_matches('\n'), max)
    } else {
        cut(value, max)
    }
}

impl Embed {
    fn chars(&self) -> usize {
        self.title.chars().count()
            + self.description.chars().count()
            + self.footer.as_deref().map_or(0, |f| f.chars().count())
            + self
                .fields
                .iter()
                .map(|f| f.name.chars().count() + f.value.chars().count())
                .sum::<usize>()
    }

    fn fit(mut self) -> Self {
        self.title = cut(&self.title, limits::TITLE);
        self.description = cut(&self.description, limits::DESCRIPTION);
        self.footer = self.footer.map(|f| cut(&f, limits::FOOTER));
        self.url = self.url.filter(|u| u.len() <= limits::URL && is_web_url(u));
        self.fields.truncate(limits::FIELDS);
        for f in &mut self.fields {
            f.name = cut(&f.name, limits::FIELD_NAME);
            if f.name.is_empty() {
                f.name = "\u{200b}".into();
            }
            f.value = if f.value.starts_with("```") && f.value.chars().count() > limits::FIELD_VALUE
            {
                let inner = f.value.trim_start_matches("```").trim_end_matches("```");
                code_block(inner.trim_matches('\n'), limits::FIELD_VALUE)
            } else {
                cut(&f.value, limits::FIELD_VALUE)
            };
            if f.value.is_empty() {
                f.value = "\u{200b}".into();
            }
        }
        self
    }
}

/// Discord refuses an embed whose url is not http(s); a feed could hand us anything.
fn is_web_url(u: &str) -> bool {
    let lower = u.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Message {
    /// Cut the message to Discord's limits; what is dropped is said in the last embed's
    /// footer, so a reader knows there is more.
    pub fn fit(mut self) -> Self {
        self.content = cut(&self.content, limits::CONTENT);
        self.embeds.truncate(limits::EMBEDS);
        self.embeds = self.embeds.into_iter().map(Embed::fit).collect();
        // The 6,000-character budget over all embeds. Fields carry the facts (a
        // rotation's fingerprints, the evidence) while a description or footer holds
        // free text from outside, so free text is shortened first: footers to
        // `SHORT_FOOTER`, descriptions to `SHORT_DESCRIPTION`. Then trailing fields
        // are dropped, then descriptions shortened further, then trailing embeds dropped.
        const SHORT_FOOTER: usize = 200;
        const SHORT_DESCRIPTION: usize = 500;
        for i in (0..self.embeds.len()).rev() {
            if self.embeds_chars_over() == 0 {
                break;
            }
            let e = &mut self.embeds[i];
            e.footer = e.footer.take().map(|f| cut(&f, SHORT_FOOTER));
        }
        for i in (0..self.embeds.len()).rev() {
            let over = self.embeds_chars_over();
            if over == 0 {
                break;
            }
            let e = &mut self.embeds[i];
            let len = e.description.chars().count();
            if len > SHORT_DESCRIPTION {
                e.description = cut(
                    &e.description,
                    len.saturating_sub(over).max(SHORT_DESCRIPTION),
                );
            }
        }
        // Then the longest field values are shortened (a list of hundreds of
        // fingerprints keeps its first ones), down to `SHORT_FIELD`, so every fact keeps
        // a line before any field is dropped.
        const SHORT_FIELD: usize = 200;
        loop {
            let over = self.embeds_chars_over();
            if over == 0 {
                break;
            }
            let longest = self
                .embeds
                .iter_mut()
                .flat_map(|e| e.fields.iter_mut())
                .filter(|f| f.value.chars().count() > SHORT_FIELD)
                .max_by_key(|f| f.value.chars().count());
            let Some(f) = longest else { break };
            let keep = f
                .value
                .chars()
                .count()
                .saturating_sub(over)
                .max(SHORT_FIELD);
            f.value = shorten_value(&f.value, keep);
        }
        let mut dropped = 0usize;
        while self.embeds.iter().map(Embed::chars).sum::<usize>() > limits::EMBED_TOTAL {
            let total: usize = self.embeds.iter().map(Embed::chars).sum();
            let over = total - limits::EMBED_TOTAL;
            let Some(last) = self.embeds.last_mut() else {
                break;
            };
            if last.fields.pop().is_some() {
                dropped += 1;
            } else if last.description.chars().count() > 1 {
                let keep = last.description.chars().count().saturating_sub(over + 1);
                last.description = cut(&last.description, keep.max(1));
            } else {
                self.embeds.pop();
                dropped += 1;
            }
        }
        if dropped > 0 {
            if let Some(last) = self.embeds.last_mut() {
                let note = format!("{dropped} more item(s) cut to fit Discord's limits");
                let footer = match last.footer.take() {
                    Some(f) => format!("{note} · {f}"),
                    None => note,
                };
                last.footer = Some(cut(&footer, 200));
                // The note itself must fit too.
                while self.embeds.iter().map(Embed::chars).sum::<usize>() > limits::EMBED_TOTAL {
                    let Some(last) = self.embeds.last_mut() else {
                        break;
                    };
                    let keep = last.description.chars().count().saturating_sub(250);
                    last.description = cut(&last.description, keep);
                    if keep == 0 {
                        break;
                    }
                }
            }
        }
        self.buttons.truncate(limits::BUTTONS);
        self.buttons
            .retain(|b| b.custom_id.len() <= limits::CUSTOM_ID);
        for b in &mut self.buttons {
            b.label = cut(&b.label, limits::BUTTON_LABEL);
        }
        self
    }

    /// Characters over Discord's 6,000 across all embeds (0 when within).
    fn embeds_chars_over(&self) -> usize {
        self.embeds
            .iter()
            .map(Embed::chars)
            .sum::<usize>()
            .saturating_sub(limits::EMBED_TOTAL)
    }

    /// A plain text rendering (logs, stdout, the webhook's `text`).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if !self.content.is_empty() {
            out.push_str(&self.content);
            out.push('\n');
        }
        for e in &self.embeds {
            out.push_str(&e.title);
            if let Some(u) = &e.url {
                out.push_str(" <");
                out.push_str(u);
                out.push('>');
            }
            out.push('\n');
            if !e.description.is_empty() {
                out.push_str(&e.description);
                out.push('\n');
            }
            for f in &e.fields {
                out.push_str(&f.name);
                out.push_str(": ");
                out.push_str(
                    &f.value
                        .replace("```\n", "")
                        .replace("\n```", "")
                        .replace("```", ""),
                );
                out.push('\n');
            }
            if let Some(f) = &e.footer {
                out.push_str(f);
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(m: &Message) -> usize {
        m.embeds.iter().map(Embed::chars).sum()
    }

    #[test]
    fn a_huge_message_is_cut_within_every_limit() {
        let big = "x".repeat(10_000);
        let embed = Embed {
            title: big.clone(),
            url: Some(format!("https://e.example/{big}")),
            description: big.clone(),
            colour: colour::ADVISORY,
            fields: (0..40)
                .map(|i| Field::new(format!("f{i}{big}"), big.clone()))
                .collect(),
            footer: Some(big.clone()),
            timestamp: None,
        };
        let m = Message {
            content: big.clone(),
            embeds: vec![embed; 12],
            buttons: (0..8)
                .map(|i| Button {
                    custom_id: format!("approve:{i}"),
                    label: big.clone(),
                    style: ButtonStyle::Success,
                })
                .collect(),
            ..Message::default()
        }
        .fit();
        assert!(m.content.chars().count() <= limits::CONTENT);
        assert!(m.embeds.len() <= limits::EMBEDS && !m.embeds.is_empty());
        assert!(total(&m) <= limits::EMBED_TOTAL, "{}", total(&m));
        for e in &m.embeds {
            assert!(e.title.chars().count() <= limits::TITLE);
            assert!(e.description.chars().count() <= limits::DESCRIPTION);
            assert!(e.fields.len() <= limits::FIELDS);
            assert!(e.url.is_none(), "an over-long url is dropped, not cut");
            for f in &e.fields {
                assert!(f.name.chars().count() <= limits::FIELD_NAME);
                assert!(f.value.chars().count() <= limits::FIELD_VALUE);
            }
        }
        assert!(m
            .embeds
            .last()
            .unwrap()
            .footer
            .as_ref()
            .unwrap()
            .contains("cut to fit"));
        assert_eq!(m.buttons.len(), limits::BUTTONS);
        assert!(m
            .buttons
            .iter()
            .all(|b| b.label.chars().count() <= limits::BUTTON_LABEL));
    }

    #[test]
    fn a_cut_code_block_stays_closed_and_cannot_be_broken_out_of() {
        let v = code_block(&format!("```\n{}", "ab".repeat(2000)), limits::FIELD_VALUE);
        assert!(v.chars().count() <= limits::FIELD_VALUE);
        assert!(v.starts_with("```\n") && v.ends_with("\n```"));
        assert_eq!(v.matches("```").count(), 2, "{v}");
    }

    #[test]
    fn small_messages_are_left_alone_and_bad_urls_dropped() {
        let m = Message {
            content: "hello".into(),
            embeds: vec![Embed {
                title: "t".into(),
                url: Some("javascript:alert(1)".into()),
                fields: vec![Field::new("", "")],
                ..Embed::default()
            }],
            ..Message::default()
        }
        .fit();
        assert_eq!(m.content, "hello");
        assert_eq!(m.embeds[0].title, "t");
        assert_eq!(m.embeds[0].url, None);
        assert_eq!(m.embeds[0].fields[0].value, "\u{200b}");
    }
}
