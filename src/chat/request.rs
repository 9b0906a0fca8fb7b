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
