//! trustwatch: keeps operations teams from installing vendor packages signed by keys
//! nobody checked.
//!
//! Data flows one way: poll -> extract -> store -> verify -> notify.
//!
//! - [`config`]: the TOML configuration, validated once.
//! - [`trust`]: fingerprints, anchors and their states, certificate import and inspection.
//! - [`store`]: the sled-backed store of anchors, audit log and findings.
//! - [`control`]: the local socket through which other commands reach `trustwatch run`.
//! - [`package`]: reading a vendor package (zip) as hostile input.
//! - [`verify`]: signature, chain and manifest checks that give a verdict.
//! - [`advisory`]: findings learnt from vendors' feeds and forums.
//! - [`chat`]: Discord notices, slash commands and escalation prompts.
//! - [`escalation`]: the escalation script for an unknown or pending key.
//! - [`notify`]: the outbox drained to chat sinks (webhooks; Discord plugs in), status.
//! - [`cli`]: the command line (printing and exit codes live there only).
#![forbid(unsafe_code)]

pub mod advisory;
pub mod chat;
pub mod cli;
pub mod config;
pub mod control;
pub mod escalation;
pub mod fetch;
pub mod notify;
pub mod package;
pub mod poll;
pub mod service;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod trust;
pub mod verify;
