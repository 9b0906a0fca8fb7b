//! What an interaction asks for, read from serenity's model into plain data (pure).
//!
//! Interactions are attacker-shaped input: any member of a guild can send any option
//! values, and a button's `custom_id` comes back from the client. Everything is checked
//! here: known command and option names only, fingerprints parsed, lengths bounded.
//! Who may do what is decided in `chat::commands`, from [`Caller`].

use serenity::all::{
    CommandInteraction, ComponentInteraction, Member, ResolvedOption, ResolvedValue, User,
};

use crate::trust::Fingerprint;

/// Longest free-text option we keep (a revocation reason, a vendor name, a URL).
const MAX_TEXT: usize = 1_000;

/// Who sent the interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: u64,
    pub name: String,
    /// Role ids the member holds in the guild; empty outside a guild.
    pub roles: Vec<u64>,
    pub guild_id: Option<u64>,
}

impl Caller {
    /// The audit log's actor: the Discord user id first, then the name for people.
    pub fn actor(&self) -> String {
        format!("discord:{} ({})", self.user_id, self.name)
    }
}

/// An attachment given to `/verify package:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRef {
    pub filename: String,
    pub size: u64,
    pub url: String,
}

/// A request, whichever way it came (slash command or button).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Verify {
        attachment: Option<AttachmentRef>,
        url: Option<String>,
    },
    TrustList {
        vendor: Option<String>,
    },
    /// `/trust approve` (typed, so applied at once) or the confirm button.
    Approve {
        fingerprint: Fingerprint,
    },
    /// The approve button on a notice or a verdict: shows the evidence and asks to confirm.
    ConfirmApprove {
        fingerprint: Fingerprint,
    },
    Revoke {
        fingerprint: Fingerprint,
        reason: String,
    },
    Escalate {
        fingerprint: Fingerprint,
    },
    Status,
}

/// Why an interaction could not be read; shown to the caller (ephemeral).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    #[error("unknown command /{0}")]
    UnknownCommand(String),
    #[error("this button is not one of trustwatch's")]
    UnknownButton,
    #[error("missing option `{0}`")]
    Missing(&'static str),
    #[error("`{name}` is not a SHA-256 fingerprint ({reason}): copy it from `/trust list` or the notice")]
    Fingerprint { name: &'static str, reason: String },
    #[error("give either a `package` attachment or a `url`, not both")]
    BothSources,
    #[error("give a `package` attachment or a `url` to verify")]
    NoSource,
}

/// Button ids: what a pressed button asks for.
pub mod button {
    use crate::trust::Fingerprint;

    pub fn approve(fp: &Fingerprint) -> String {
        format!("approve:{fp}")
    }

    pub fn confirm(fp: &Fingerprint) -> String {
        format!("confirm:{fp}")
    }

    pub fn escalate(fp: &Fingerprint) -> String {
        format!("escalate:{fp}")
    }
}

fn caller(user: &User, member: Option<&Member>, guild_id: Option<u64>) -> Caller {
    Caller {
        user_id: user.id.get(),
        name: user
            .global_name
            .clone()
            .unwrap_or_else(|| user.name.clone()),
        roles: member
            .map(|m| m.roles.iter().map(|r| r.get()).collect())
            .unwrap_or_default(),
        guild_id,
    }
}

fn text(options: &[ResolvedOption<'_>], name: &str) -> Option<String> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match o.value {
            ResolvedValue::String(s) => Some(
                s.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_TEXT)
                    .collect::<String>()
                    .trim()
                    .to_owned(),
            )
            .filter(|s| !s.is_empty()),
            _ => None,
        })
}

fn fingerprint(options: &[ResolvedOption<'_>]) -> Result<Fingerprint, BadRequest> {
    let raw = text(options, "fingerprint").ok_or(BadRequest::Missing("fingerprint"))?;
    raw.parse().map_err(
        |e: crate::trust::FingerprintError| BadRequest::Fingerprint {
            name: "fingerprint",
            reason: e.to_string(),
        },
    )
}

/// Read a slash command.
pub fn from_command(cmd: &CommandInteraction) -> Result<(Caller, Request), BadRequest> {
    let who = caller(
        &cmd.user,
        cmd.member.as_deref(),
        cmd.guild_id.map(|g| g.get()),
    );
    let options = cmd.data.options();
    let request = match cmd.data.name.as_str() {
        "verify" => {
            let attachment =
                options
                    .iter()
                    .find(|o| o.name == "package")
                    .and_then(|o| match o.value {
                        ResolvedValue::Attachment(a) => Some(AttachmentRef {
                            filename: a.filename.chars().take(200).collect(),
                            size: u64::from(a.size),
                            url: a.url.clone(),
                        }),
                        _ => None,
                    });
            let url = text(&options, "url");
            match (&attachment, &url) {
                (Some(_), Some(_)) => return Err(BadRequest::BothSources),
                (None, None) => return Err(BadRequest::NoSource),
                _ => Request::Verify { attachment, url },
            }
        }
        "trust" => {
            let Some(sub) = options.first() else {
                return Err(BadRequest::Missing("subcommand"));
            };
            let ResolvedValue::SubCommand(sub_options) = &sub.value else {
                return Err(BadRequest::Missing("subcommand"));
            };
            match sub.name {
                "list" => Request::TrustList {
                    vendor: text(sub_options, "vendor"),
                },
                "approve" => Request::Approve {
                    fingerprint: fingerprint(sub_options)?,
                },
                "revoke" => Request::Revoke {
                    fingerprint: fingerprint(sub_options)?,
                    reason: text(sub_options, "reason").ok_or(BadRequest::Missing("reason"))?,
                },
                other => return Err(BadRequest::UnknownCommand(format!("trust {other}"))),
            }
        }
        "escalate" => Request::Escalate {
            fingerprint: fingerprint(&options)?,
        },
        "status" => Request::Status,
        other => return Err(BadRequest::UnknownCommand(other.chars().take(32).collect())),
    };
    Ok((who, request))
}

/// Read a button press.
pub fn from_component(c: &ComponentInteraction) -> Result<(Caller, Request), BadRequest> {
    let who = caller(&c.user, c.member.as_ref(), c.guild_id.map(|g| g.get()));
    let (action, fp) = c
        .data
        .custom_id
        .split_once(':')
        .ok_or(BadRequest::UnknownButton)?;
    let fingerprint: Fingerprint = fp.parse().map_err(|_| BadRequest::UnknownButton)?;
    let request = match action {
        "approve" => Request::ConfirmApprove { fingerprint },
        "confirm" => Request::Approve { fingerprint },
        "escalate" => Request::Escalate { fingerprint },
        _ => return Err(BadRequest::UnknownButton),
    };
    Ok((who, request))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{json, Value};
    use serenity::all::Interaction;

    /// A slash command interaction as Discord sends it (every field serenity 0.12.5
    /// requires), from `user` holding `roles` in guild 7.
    pub(crate) fn command(name: &str, options: Value, resolved: Value, roles: &[u64]) -> Value {
        json!({
            "id": "1001", "application_id": "2002", "type": 2, "token": "tok-abc",
            "version": 1, "locale": "en-US", "guild_locale": "en-US",
            "entitlements": [], "attachment_size_limit": 26_214_400_u64,
            "app_permissions": "0", "authorizing_integration_owners": {},
            "guild_id": "7", "channel_id": "8",
            "channel": {"id": "8", "type": 0},
            "member": {
                "user": {"id": "55", "username": "jane", "discriminator": "0", "avatar": null, "global_name": "Jane"},
                "roles": roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                "joined_at": "2026-01-01T00:00:00Z", "deaf": false, "mute": false, "flags": 0,
                "permissions": "0"
            },
            "data": {"id": "3003", "name": name, "type": 1, "options": options, "resolved": resolved}
        })
    }

    fn parse(v: Value) -> Result<(Caller, Request), BadRequest> {
        match serde_json::from_value::<Interaction>(v).expect("serenity reads the fixture") {
            Interaction::Command(c) => from_command(&c),
            Interaction::Component(c) => from_component(&c),
            other => panic!("unexpected {other:?}"),
        }
    }

    const FP: &str = "d94b96946b8c4c2e7451879b266264eb59c9d8feb1c897b872e8e311921d7930";

    #[test]
    fn slash_commands_become_requests_with_their_caller() {
        let (who, req) = parse(command(
            "trust",
            json!([{"name": "approve", "type": 1, "options": [{"name": "fingerprint", "type": 3, "value": FP.to_uppercase()}]}]),
            json!({}),
            &[99],
        ))
        .unwrap();
        assert_eq!(who.user_id, 55);
        assert_eq!(who.roles, vec![99]);
        assert_eq!(who.guild_id, Some(7));
        assert_eq!(who.actor(), "discord:55 (Jane)");
        assert_eq!(
            req,
            Request::Approve {
                fingerprint: FP.parse().unwrap()
            }
        );

        let (_, req) = parse(command(
            "verify",
            json!([{"name": "package", "type": 11, "value": "900"}]),
            json!({"attachments": {"900": {"id": "900", "filename": "Full-upgrade-package-dten.zip", "size": 1234,
                   "url": "https://cdn.discordapp.com/ephemeral-attachments/1/2/p.zip?ex=1", "proxy_url": "https://media.discordapp.net/x"}}}),
            &[],
        ))
        .unwrap();
        let Request::Verify {
            attachment: Some(a),
            url: None,
        } = req
        else {
            panic!("{req:?}")
        };
        assert_eq!(a.size, 1234);
        assert_eq!(a.filename, "Full-upgrade-package-dten.zip");
    }

    #[test]
    fn bad_options_are_refused_with_a_reason() {
        let bad_fp = command(
            "escalate",
            json!([{"name": "fingerprint", "type": 3, "value": "abc; rm -rf /"}]),
            json!({}),
            &[],
        );
        assert!(matches!(parse(bad_fp), Err(BadRequest::Fingerprint { .. })));
        assert_eq!(
            parse(command("verify", json!([]), json!({}), &[])),
            Err(BadRequest::NoSource)
        );
        assert!(matches!(
            parse(command("drop-tables", json!([]), json!({}), &[])),
            Err(BadRequest::UnknownCommand(_))
        ));
        let no_reason = command(
            "trust",
            json!([{"name": "revoke", "type": 1, "options": [{"name": "fingerprint", "type": 3, "value": FP}]}]),
            json!({}),
            &[],
        );
        assert_eq!(parse(no_reason), Err(BadRequest::Missing("reason")));
    }

    #[test]
    fn buttons_carry_a_checked_fingerprint() {
        let mut v = command("x", json!([]), json!({}), &[99]);
        v["type"] = json!(3);
        v["message"] = json!({"id": "5", "channel_id": "8", "author": {"id": "2002", "username": "tw", "discriminator": "0", "avatar": null},
            "content": "", "timestamp": "2026-01-01T00:00:00Z", "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0});
        v["data"] = json!({"custom_id": format!("approve:{FP}"), "component_type": 2});
        let (_, req) = parse(v.clone()).unwrap();
        assert_eq!(
            req,
            Request::ConfirmApprove {
                fingerprint: FP.parse().unwrap()
            }
        );
        v["data"]["custom_id"] = json!("approve:not-hex");
        assert_eq!(parse(v.clone()), Err(BadRequest::UnknownButton));
        v["data"]["custom_id"] = json!(format!("delete:{FP}"));
        assert_eq!(parse(v), Err(BadRequest::UnknownButton));
    }
}
