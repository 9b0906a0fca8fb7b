//! Chat: how people meet trustwatch (CONTRACT §6). Rotation notices in the ops channel,
//! `/verify` on the package a vendor just sent, and an escalation prompt with a ready
//! script when the key is unknown.
//!
//! - `chat/message.rs`: a message in neutral form and Discord's size limits (pure).
//! - `chat/handler.rs`: the seam between a transport and the command code.
//! - `chat/request.rs`: an interaction read into a checked request and its caller (pure).
//! - `chat/commands.rs`: the dispatcher ([`commands::Bot`]): authority, work, answers.
//! - `chat/evidence.rs`: the evidence an approver needs before trusting a new CA.
//! - `chat/render.rs`: answers and prompts as messages (pure).
//! - `chat/notice.rs`: a finding's notice decorated for Discord (evidence, buttons, ping).
//! - `chat/status.rs`: the `/status` answer.
//! - `chat/verifying.rs`: `/verify`: download behind the guard, verify off the async threads.
//! - `chat/builders.rs`: messages into serenity's builders.
//! - `chat/sink.rs`: the notifier's Discord sink (nonce, retry rules).
//! - `chat/serve.rs`: Discord while `run` is up: token, sink, supervised transport.
//! - `chat/discord.rs`: serenity's REST client pointed at `api_base`, the slash commands
//!   and their registration.
//! - `chat/gateway.rs`: the gateway transport (serenity's client).
//! - `chat/interactions.rs`: the HTTP interactions endpoint (signature check, PING,
//!   immediate or deferred answers) in front of a [`handler::Handler`].
//!
//! Data flows one way: findings are rendered into [`Message`]s here and delivered by
//! `notify`; commands come in through a transport (gateway or HTTP endpoint), are
//! answered by one dispatcher, and go out through serenity's REST client.

pub mod builders;
pub mod commands;
pub mod discord;
pub mod evidence;
pub mod gateway;
pub mod handler;
pub mod interactions;
pub mod message;
pub mod notice;
pub mod render;
pub mod request;
pub mod serve;
pub mod sink;
pub mod status;
mod verifying;

pub use message::{Button, ButtonStyle, Embed, Field, File, Message};
