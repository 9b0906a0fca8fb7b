//! Interaction JSON fixtures as Discord sends them to a bot (every field serenity 0.12.5
//! requires), and a signer that signs `timestamp || body` with a fixed test Ed25519 key
//! as Discord signs requests to an interactions endpoint.

use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Value};

use super::{
    bot_user, now_rfc3339, snowflake, APPLICATION_ID, APPROVER_ROLE_ID, CHANNEL_ID, GUILD_ID,
};

/// Who invokes an interaction and where; builds interaction JSON with every field
/// serenity 0.12.5 requires (`attachment_size_limit`, `entitlements`, `locale`,
/// `version`, `token`, `channel_id`, ...). Each fixture gets a fresh id and token.
#[derive(Debug, Clone)]
pub struct Invoker {
    pub guild_id: Option<u64>,
    pub channel_id: u64,
    pub user_id: u64,
    pub username: String,
    pub roles: Vec<u64>,
}

impl Default for Invoker {
    fn default() -> Self {
        Self {
            guild_id: Some(GUILD_ID),
            channel_id: CHANNEL_ID,
            user_id: 567_890_123_456_789_012,
            username: "operator".into(),
            roles: Vec::new(),
        }
    }
}

impl Invoker {
    /// A guild member holding the approver role.
    pub fn approver() -> Self {
        Self {
            roles: vec![APPROVER_ROLE_ID],
            ..Self::default()
        }
    }

    pub fn with_roles(mut self, roles: &[u64]) -> Self {
        self.roles = roles.to_vec();
        self
    }

    /// Outside a guild (a DM): `user` instead of `member`.
    pub fn in_dm(mut self) -> Self {
        self.guild_id = None;
        self
    }

    fn user(&self) -> Value {
        json!({"id": self.user_id.to_string(), "username": self.username, "discriminator": "0",
               "global_name": self.username, "avatar": null})
    }

    /// The fields every interaction type shares.
    fn base(&self, kind: u8) -> Value {
        let id = snowflake();
        let mut v = json!({
            "id": id.to_string(),
            "application_id": APPLICATION_ID.to_string(),
            "type": kind,
            "token": format!("interaction-token-{id}"),
            "version": 1,
            "channel_id": self.channel_id.to_string(),
            "channel": {"id": self.channel_id.to_string(), "type": 0, "name": "ops"},
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
            "context": 0,
            "attachment_size_limit": 10_485_760,
        });
        match self.guild_id {
            Some(guild) => {
                v["guild_id"] = json!(guild.to_string());
                v["guild_locale"] = json!("en-US");
                v["member"] = json!({
                    "user": self.user(),
                    "roles": self.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
                    "joined_at": "2025-01-01T00:00:00.000000+00:00",
                    "premium_since": null, "nick": null, "avatar": null,
                    "deaf": false, "mute": false, "flags": 0, "pending": false,
                    "permissions": "2248473465835073",
                    "communication_disabled_until": null,
                });
            }
            None => {
                v["user"] = self.user();
                v["context"] = json!(1);
            }
        }
        v
    }

    /// A PING (type 1), as Discord sends when the endpoint URL is saved.
    pub fn ping(&self) -> Value {
        let id = snowflake();
        json!({"id": id.to_string(), "application_id": APPLICATION_ID.to_string(), "type": 1,
               "token": format!("interaction-token-{id}"), "version": 1,
               "user": {"id": "643945264868098049", "username": "discord", "discriminator": "0", "avatar": null}})
    }

    /// A slash command `name` with `options` (Discord's option objects) and `resolved`.
    pub fn command(&self, name: &str, options: Value, resolved: Value) -> Value {
        let mut v = self.base(2);
        let mut data = json!({"id": snowflake().to_string(), "name": name, "type": 1,
                              "options": options});
        if !resolved.is_null() {
            data["resolved"] = resolved;
        }
        if let Some(guild) = self.guild_id {
            data["guild_id"] = json!(guild.to_string());
        }
        v["data"] = data;
        v
    }

    fn trust(&self, sub: &str, options: Value) -> Value {
        self.command(
            "trust",
            json!([{"name": sub, "type": 1, "options": options}]),
            Value::Null,
        )
    }

    pub fn trust_list(&self, vendor: Option<&str>) -> Value {
        let options = match vendor {
            Some(v) => json!([{"name": "vendor", "type": 3, "value": v}]),
            None => json!([]),
        };
        self.trust("list", options)
    }

    pub fn trust_approve(&self, fingerprint: &str) -> Value {
        self.trust(
            "approve",
            json!([{"name": "fingerprint", "type": 3, "value": fingerprint}]),
        )
    }

    pub fn trust_revoke(&self, fingerprint: &str, reason: &str) -> Value {
        self.trust(
            "revoke",
            json!([{"name": "fingerprint", "type": 3, "value": fingerprint},
                   {"name": "reason", "type": 3, "value": reason}]),
        )
    }

    /// `/verify package:<attachment>`, the attachment in `data.resolved.attachments`.
    pub fn verify_attachment(&self, filename: &str, url: &str, size: u32) -> Value {
        let id = snowflake().to_string();
        self.command(
            "verify",
            json!([{"name": "package", "type": 11, "value": id}]),
            json!({"attachments": {id.clone(): {
                "id": id, "filename": filename, "size": size, "url": url, "proxy_url": url,
                "content_type": "application/zip", "ephemeral": true,
            }}}),
        )
    }

    pub fn verify_url(&self, url: &str) -> Value {
        self.command(
            "verify",
            json!([{"name": "url", "type": 3, "value": url}]),
            Value::Null,
        )
    }

    pub fn status(&self) -> Value {
        self.command("status", json!([]), Value::Null)
    }

    pub fn escalate(&self, fingerprint: &str) -> Value {
        self.command(
            "escalate",
            json!([{"name": "fingerprint", "type": 3, "value": fingerprint}]),
            Value::Null,
        )
    }

    /// A button press (component interaction, type 3) on a message the bot posted.
    pub fn button(&self, custom_id: &str) -> Value {
        let mut v = self.base(3);
        let mut message = json!({
            "id": snowflake().to_string(), "channel_id": self.channel_id.to_string(),
            "author": bot_user(), "content": "", "timestamp": now_rfc3339(),
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0, "flags": 0,
            "components": [{"type": 1, "components": [
                {"type": 2, "style": 1, "label": "Press", "custom_id": custom_id}]}],
        });
        if let Some(guild) = self.guild_id {
            message["guild_id"] = json!(guild.to_string());
        }
        v["message"] = message;
        v["data"] = json!({"custom_id": custom_id, "component_type": 2});
        v
    }
}

/// Signs interaction requests as Discord does, with a fixed test key.
pub struct Signer {
    key: SigningKey,
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

impl Signer {
    pub fn new() -> Self {
        Self::from_seed([7; 32])
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The public key as the developer portal shows it (what `serve` takes).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// `X-Signature-Ed25519` and `X-Signature-Timestamp` for `body`, signed now.
    pub fn headers(&self, body: &[u8]) -> [(&'static str, String); 2] {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.headers_at(&now.to_string(), body)
    }

    /// The headers for `body` with a given timestamp header (stale or future ones).
    pub fn headers_at(&self, timestamp: &str, body: &[u8]) -> [(&'static str, String); 2] {
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        let signature = self.key.sign(&message);
        [
            ("X-Signature-Ed25519", hex::encode(signature.to_bytes())),
            ("X-Signature-Timestamp", timestamp.to_owned()),
        ]
    }
}
