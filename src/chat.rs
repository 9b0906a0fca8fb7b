//! Chat: how people meet trustwatch (CONTRACT §6). Rotation notices in the ops channel,
//! `/verify` on the package a vendor just sent, and an escalation prompt with a ready
//! script when the key is unknown.
//!
//! - `chat/message.rs`: a message in neutral form and Discord's size limits (pure).
//! - `chat/handler.rs`: the seam between a transport and the command code.
//! - `chat/interactions.rs`: the HTTP interactions endpoint (signature check, PING,
//!   immediate or deferred answers) in front of a [`handler::Handler`].
//!
//! Data flows one way: findings are rendered into [`Message`]s here and delivered by
//! `notify`; commands come in through a transport (gateway or HTTP endpoint), are
//! answered by one dispatcher, and go out through serenity's REST client.

pub mod handler;
pub mod interactions;
pub mod message;

pub use message::{Button, ButtonStyle, Embed, Field, File, Message};
